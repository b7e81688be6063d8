"""What every partner adapter shares: the retry policy and HTTP error mapping.

One mechanism for TikTok Shop, Sync Order Information, the Events API and
SFCC: a transport failure, a timeout, HTTP 429 or 5xx become `RetryableError`;
other 4xx become `RejectedError` (`AuthenticationError` for 401 / 403).
Partner-specific envelopes (TikTok's `{code, message, request_id, data}`)
are read by each adapter, which raises the same errors.

Retries use stamina (exponential backoff with jitter, bounded in attempts and
total time) and only ever retry `RetryableError`. stamina reports each retry
to its global hooks, which belong to the application: `log_retry` is a hook
that says each one as a readable line on the `adapters.retry` logger, and the
command line installs it in place of stamina's own while it dispatches.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import stamina
from attrs import frozen

from adapters.errors import AuthenticationError, PartnerError, RejectedError, RetryableError

T = TypeVar("T")

RETRY_LOG = logging.getLogger("adapters.retry")


@frozen
class RetryPolicy:
    """How hard to try: attempts and total time are both bounds."""

    attempts: int = 5
    timeout: timedelta = timedelta(seconds=30)
    wait_initial: timedelta = timedelta(milliseconds=100)
    wait_max: timedelta = timedelta(seconds=5)
    wait_jitter: timedelta = timedelta(seconds=1)

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        return cls(attempts=1)


def _backoff_hook(policy: RetryPolicy) -> Callable[[Exception], bool | timedelta]:
    """Retry only `RetryableError`; wait what `Retry-After` asks, when it asks.

    A wait longer than the policy's `wait_max` is not slept on inside the call:
    the error goes up, and whoever schedules the next attempt (the dispatcher,
    the reader: `Backoff.delay`) honours it.
    """

    def hook(error: Exception) -> bool | timedelta:
        if not isinstance(error, RetryableError):
            return False
        if error.retry_after is None:
            return True
        if error.retry_after > policy.wait_max:
            return False
        return error.retry_after

    return hook


def call_with_retries(policy: RetryPolicy, call: Callable[[], T]) -> T:
    """Run `call`, retrying `RetryableError` under `policy`."""
    for attempt in stamina.retry_context(
        on=_backoff_hook(policy),
        attempts=policy.attempts,
        timeout=policy.timeout,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    ):
        with attempt:
            return call()
    raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover


async def acall_with_retries(policy: RetryPolicy, call: Callable[[], Awaitable[T]]) -> T:
    """`call_with_retries` for coroutines."""
    async for attempt in stamina.retry_context(
        on=_backoff_hook(policy),
        attempts=policy.attempts,
        timeout=policy.timeout,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover


def log_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """A stamina on-retry hook: one line per scheduled retry, on the `adapters.retry` logger.

    It names the error (ours: partner, message, status, code and request id,
    never a secret), the retry's number and the wait before it.
    """
    error = details.caused_by
    RETRY_LOG.info(
        "%s: %s; retry %d in %.2f s",
        type(error).__name__,
        error,
        details.retry_num,
        details.wait_for,
    )


def transport_error(partner: str, error: httpx.TransportError) -> RetryableError:
    """A timeout or connection failure, as our error (raise it `from` the original)."""
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "connection failed"
    return RetryableError(partner, f"{kind}: {type(error).__name__}")


def retry_after(response: httpx.Response) -> timedelta | None:
    """How long `Retry-After` asks to wait: seconds, or an HTTP-date (RFC 9110 10.2.3).

    `None` when the header is absent or unreadable; a date in the past is zero.
    """
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(moment - datetime.now(UTC), timedelta(0))


def standard_phrase(status: int) -> str:
    """The standard reason phrase of `status`, never the one the server sent (a partner
    may put anything on its status line, an echo of our request included)."""
    return httpx.codes.get_reason_phrase(status) or "error"


def status_error(
    partner: str,
    response: httpx.Response,
    *,
    code: int | str | None = None,
    message: str | None = None,
    request_id: str | None = None,
) -> PartnerError | None:
    """The error an HTTP status means, or `None` for 2xx / 3xx."""
    status = response.status_code
    if status < 400:
        return None
    text = message or standard_phrase(status)
    if status == 429 or status >= 500:
        return RetryableError(
            partner,
            text,
            status=status,
            code=code,
            request_id=request_id,
            retry_after=retry_after(response),
        )
    if status in (401, 403):
        return AuthenticationError(partner, text, status=status, code=code, request_id=request_id)
    return RejectedError(partner, text, status=status, code=code, request_id=request_id)
