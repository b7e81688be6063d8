"""The redactor: what an error, a stored error or a log line may never hold.

A partner's answer to a refused call can quote what it was sent: the buyer's
name, street address, phone and email from the body, the bearer token or the
`x-tts-access-token` header (which has no `Bearer` prefix to recognise it
by). So nothing read from an answer reaches an error but its structured
fields (HTTP status, the partner's code, its message, its request id), and
the message is redacted here, by one mechanism for every partner:

- **secrets** are registered when they are obtained, process-wide: the
  configured app secrets and tokens when a client or an auth is built, every
  token obtained at run time (TikTok Shop's token refresh, SFCC's OAuth
  token, the tokens `TokenVault` loads) when it arrives;
- **personal values in flight**: while an effect is carried out, the values of
  its order that are personal (`personal`, a context manager the dispatcher
  enters) are masked in whatever is built meanwhile in the same context;
- patterns: emails, phone-like digit runs and `Bearer` / `Basic` credentials
  (`redact`, for a partner's free text).

Each value is also masked as JSON and URL encoding would quote it. httpx's
own request log line (INFO on the `httpx` logger) quotes the status line the
server sent: a filter puts the standard reason phrase there and masks what
the redactor knows.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import httpx

__all__ = ["MASK", "REDACTOR", "Redactor", "register_secret"]

MASK = "***"
#: Shorter secrets are not registered: masking them would blank ordinary words.
MIN_SECRET = 8
#: Personal words this short are masked as whole words only.
_WHOLE_WORD = 4

_IN_FLIGHT: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "adapters_redactor_in_flight", default=frozenset()
)


def _forms(value: str) -> set[str]:
    """`value` and the ways an echo may quote it (JSON string escapes, URL encoding)."""
    forms = {value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe="")}
    forms.add(urllib.parse.quote_plus(value))
    return {form for form in forms if form}


@functools.lru_cache(maxsize=256)
def _pattern(values: frozenset[str]) -> re.Pattern[str] | None:
    parts = []
    for value in sorted(values, key=len, reverse=True):
        escaped = re.escape(value)
        parts.append(rf"\b{escaped}\b" if len(value) < _WHOLE_WORD else escaped)
    return re.compile("|".join(parts)) if parts else None


class Redactor:
    """Masks every registered secret, and the personal values in flight, in a text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"Redactor(secrets={len(self._secrets)})"

    def register(self, *secrets: str | None) -> None:
        """Mask these from now on, in every thread (values under `MIN_SECRET` are ignored)."""
        found = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                found |= _forms(secret)
        if found - self._secrets:
            with self._lock:
                self._secrets = self._secrets | found

    @contextmanager
    def personal(self, values: Iterable[str]) -> Iterator[None]:
        """Mask `values` in this context (a thread, a task) until the block ends."""
        kept = {form for value in values if value for form in _forms(value)}
        token = _IN_FLIGHT.set(_IN_FLIGHT.get() | kept)
        try:
            yield
        finally:
            _IN_FLIGHT.reset(token)

    def mask(self, text: str, extra: Iterable[str] = ()) -> str:
        """`text` with each registered secret, each value in flight and `extra` as `***`.

        The secrets change rarely: their pattern is compiled once per set. The
        values in flight change with every effect, so they are replaced one by
        one (longest first) instead of compiling a pattern per effect.
        """
        pattern = _pattern(self._secrets)
        if pattern is not None:
            text = pattern.sub(MASK, text)
        values = _IN_FLIGHT.get() | {form for value in extra if value for form in _forms(value)}
        for value in sorted(values, key=len, reverse=True):
            if value not in text:
                continue
            if len(value) < _WHOLE_WORD:
                text = re.sub(rf"\b{re.escape(value)}\b", MASK, text)
            else:
                text = text.replace(value, MASK)
        return text


#: The process's redactor: every client registers its secrets with it.
REDACTOR = Redactor()


def register_secret(*secrets: str | None) -> None:
    """Register secrets with the process's redactor (`REDACTOR.register`)."""
    REDACTOR.register(*secrets)


class _HttpxLogFilter(logging.Filter):
    """httpx's `HTTP Request: METHOD URL "HTTP/1.1 STATUS PHRASE"` with the standard
    phrase, not the server's, and every value the redactor knows masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 5
            and isinstance(args[3], int)
            and str(record.msg).startswith("HTTP Request:")
        ):
            record.args = (*args[:4], httpx.codes.get_reason_phrase(args[3]))
        message = record.getMessage()
        masked = REDACTOR.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _filter_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HttpxLogFilter) for f in logger.filters):
        logger.addFilter(_HttpxLogFilter())


_filter_httpx_logs()
