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

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
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


def call_with_retries(policy: RetryPolicy, call: Callable[[], T]) -> T:
    """Run `call`, retrying `RetryableError` under `policy`."""
    for attempt in stamina.retry_context(
        on=RetryableError,
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
        on=RetryableError,
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
    text = message or response.reason_phrase or "error"
    if status == 429 or status >= 500:
        return RetryableError(partner, text, status=status, code=code, request_id=request_id)
    if status in (401, 403):
        return AuthenticationError(partner, text, status=status, code=code, request_id=request_id)
    return RejectedError(partner, text, status=status, code=code, request_id=request_id)
