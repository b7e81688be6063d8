"""One reader for TikTok's `{code, message, request_id, data}` envelope, one meaning.

TikTok Shop, Sync Order Information and the Events API answer in the same
envelope, and `adapters.http.read_envelope` reads all three: `code` 0 is
success; an answer it cannot read as success is retried, never counted done.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.errors import AuthenticationError, RejectedError, RetryableError
from adapters.http import read_envelope


def _answer(status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "https://x.test/"), **kwargs)


def test_code_zero_is_success_with_its_data_and_request_id() -> None:
    envelope = read_envelope(
        "p", _answer(json={"code": 0, "message": "OK", "request_id": "R1", "data": {"a": 1}})
    )
    assert (envelope.code, envelope.request_id, envelope.data) == (0, "R1", {"a": 1})


@pytest.mark.parametrize(
    "answer",
    [
        _answer(json={"message": "OK", "request_id": "R1"}),
        _answer(json={"code": None, "data": {}}),
        _answer(json={"code": "OK"}),
        _answer(json={"code": True}),
        _answer(content=b'{"code": 0, "message": "Succ'),
        _answer(content=b""),
        _answer(json=["code", 0]),
    ],
    ids=["no code", "null code", "text code", "boolean code", "cut short", "empty", "a list"],
)
def test_a_2xx_answer_that_does_not_say_success_is_retried_not_done(
    answer: httpx.Response,
) -> None:
    """The missing-code rule, decided once for all three partners."""
    with pytest.raises(RetryableError):
        read_envelope("p", answer)


def test_codes_are_retryable_authentication_or_rejected_as_configured() -> None:
    def code(number: int) -> type[Exception]:
        try:
            read_envelope(
                "p",
                _answer(json={"code": number, "message": "m"}),
                retryable_codes=frozenset({36009003}),
                auth_codes=frozenset({40105}),
                auth_code_prefixes=("105",),
            )
        except (RetryableError, RejectedError) as error:
            return type(error)
        raise AssertionError("a non-zero code was taken for success")

    assert code(36009003) is RetryableError
    assert code(40105) is AuthenticationError
    assert code(105002) is AuthenticationError
    assert code(40002) is RejectedError


def test_an_error_status_wins_over_the_body() -> None:
    with pytest.raises(RetryableError):
        read_envelope("p", _answer(503, json={"code": 0}))
    with pytest.raises(RejectedError):
        read_envelope("p", _answer(400, content=b"not json"))


# --------------------------------------------------------------------------- Retry-After


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    """RFC 9110's two forms; an unreadable value or a past date asks for nothing more."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from adapters.http import retry_after

    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(answer("3600")) == timedelta(hours=1)
    future = datetime.now(UTC) + timedelta(hours=2)
    waited = retry_after(answer(format_datetime(future, usegmt=True)))
    assert waited is not None
    assert timedelta(hours=1, minutes=59) < waited <= timedelta(hours=2)
    assert retry_after(answer("Wed, 21 Oct 2015 07:28:00 GMT")) == timedelta(0)
    assert retry_after(answer("soon")) is None
    assert retry_after(httpx.Response(429)) is None


def test_a_429_with_a_long_retry_after_is_not_retried_inside_the_call_but_scheduled() -> None:
    """Retry-After: 3600 is not slept on, nor retried within a second: the call gives up at
    once, and the dispatcher's backoff waits the hour (up to its cap)."""
    from datetime import timedelta

    from adapters.errors import RetryableError
    from adapters.http import RetryPolicy, call_with_retries, status_error
    from adapters.service import Backoff

    calls = []

    def busy() -> None:
        calls.append(1)
        error = status_error("sfcc", httpx.Response(429, headers={"Retry-After": "3600"}))
        assert error is not None
        raise error

    policy = RetryPolicy(attempts=5, wait_initial=timedelta(0), wait_max=timedelta(seconds=5))
    with pytest.raises(RetryableError) as raised:
        call_with_retries(policy, busy)
    assert len(calls) == 1
    assert raised.value.retry_after == timedelta(hours=1)
    backoff = Backoff(initial=timedelta(seconds=1), retry_after_cap=timedelta(minutes=30))
    assert backoff.delay(1, 0, raised.value) == timedelta(minutes=30)
    assert backoff.delay(1, 0, None) < timedelta(seconds=2)
