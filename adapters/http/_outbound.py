"""What the reporting and commerce adapters share: wire money, smart mapping, sending.

Sync Order Information, the Events API and SFCC all build a JSON body from an
order (pure), check it, and send it with the shared retry policy. This module
holds the parts they have in common, so that each adapter is only its
partner's field names and rules:

- `MoneyFormat` and `encode_json`: money leaves as a decimal string or as an
  exact JSON number (a `Decimal` is written digit for digit, never through
  `float`).
- `lookup`, `resolve`, `set_path`, `apply_field_map`: the Commanders Act
  destinations' "smart mapping", where a field takes its value from a named
  field of the OMS's own data written `{{path.to.field}}`.
- `InvalidPayload`: a body that would be refused, listing every problem at once.
- `Call`, `send`, `asend`: one request, sent with retries under
  `adapters.http.RetryPolicy`; the sync and async variants differ only in
  the line that sends.
- `redact`: partners' free-text messages can echo what we sent, so every
  secret and personal value the redactor knows (`adapters.http._redact`),
  emails and phone-like digit runs are masked before a message reaches an
  error, and only the answer's structured fields are read at all.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import cattrs
import httpx
from attrs import field, frozen

from adapters.errors import (
    AuthenticationError,
    PartnerError,
    RejectedError,
    RetryableError,
)
from adapters.http._redact import REDACTOR
from adapters.http._retry import (
    RetryPolicy,
    acall_with_retries,
    call_with_retries,
    standard_phrase,
    status_error,
    transport_error,
)

T = TypeVar("T")

logger = logging.getLogger("adapters")

CENT = Decimal("0.01")
_TEMPLATE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


class MoneyFormat(enum.StrEnum):
    """How an amount is written on the wire: `"12.50"` or `12.50`."""

    STRING = "string"
    NUMBER = "number"


def to_decimal(value: object) -> Decimal | None:
    """`value` as a finite `Decimal`, or `None` when it is not an amount."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def cents(amount: Decimal) -> Decimal:
    """`amount` rounded to the cent, half up: the precision money rules are checked at."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def wire_money(amount: Decimal, money: MoneyFormat) -> str | Decimal:
    """`amount` as the partner wants it; a `Decimal` is later encoded as a JSON number."""
    return format(amount, "f") if money is MoneyFormat.STRING else amount


def money_converter(money: MoneyFormat) -> cattrs.Converter:
    """A new cattrs converter that omits `None` fields and writes amounts in `money`.

    The base of each partner's own converter (each adapter owns one, adds its
    renames and hooks, and caches it per money format): amounts leave as
    `wire_money` writes them and come back as exact `Decimal`s.
    """
    conv = cattrs.Converter(omit_if_default=True)
    conv.register_unstructure_hook(Decimal, lambda amount: wire_money(amount, money))
    conv.register_structure_hook(Decimal, lambda value, _type: Decimal(str(value)))
    return conv


def encode_json(value: Any) -> bytes:
    """Compact JSON where a `Decimal` becomes a JSON number with exactly its digits."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def decode_json(content: bytes) -> Any:
    """Parse JSON keeping numbers with a fraction as `Decimal`, as money must be."""
    return json.loads(content, parse_float=Decimal)


# --- smart mapping ---------------------------------------------------------------------------


def _steps(path: str) -> list[str]:
    return [step for step in path.split(".") if step]


def lookup(data: Any, path: str) -> Any:
    """The value at dotted `path` in `data` (keys, or list indices as numbers); else `None`."""
    current = data
    for step in _steps(path):
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list | tuple) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
        if current is None:
            return None
    return current


def resolve(template: Any, data: Mapping[str, Any]) -> Any:
    """A mapped value: `"{{a.b}}"` is looked up in `data`; anything else is a literal."""
    if isinstance(template, str):
        match = _TEMPLATE.fullmatch(template.strip())
        if match is not None:
            return lookup(data, match.group(1))
    return template


def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at dotted `path`, creating objects and lists (`spu_list.0.x`) on the way."""
    steps = _steps(path)
    current: Any = target
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        if following is None:
            _assign(current, step, value)
            return
        child = _child(current, step)
        if not isinstance(child, dict | list):
            child = [] if following.isdigit() else {}
            _assign(current, step, child)
        current = child


def _child(container: Any, step: str) -> Any:
    if isinstance(container, list):
        index = int(step)
        return container[index] if index < len(container) else None
    return container.get(step)


def _assign(container: Any, step: str, value: Any) -> None:
    if isinstance(container, list):
        index = int(step)
        container.extend([None] * (index + 1 - len(container)))
        container[index] = value
    else:
        container[step] = value


def apply_field_map(
    payload: dict[str, Any],
    field_map: Mapping[str, Any],
    data: Mapping[str, Any],
    convert: Callable[[str, Any], Any] = lambda _path, value: value,
) -> dict[str, Any]:
    """Override `payload` fields from the OMS's `data`; a template resolving to nothing is skipped.

    `convert(path, value)` lets the adapter put a mapped amount into its money
    format, so a value taken from the OMS leaves exactly like a computed one.
    """
    for path, template in field_map.items():
        value = resolve(template, data)
        if value is not None:
            set_path(payload, path, convert(path, value))
    return payload


# --- validation --------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """A mandatory field counts as missing when absent, `None` or an empty string or list."""
    return value is None or value == "" or value == [] or value == {}


# --- sending -----------------------------------------------------------------------------------

_EMAIL = re.compile(r"[^\s@\"']+@[^\s@\"']+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
# A partner that quotes the request back may quote a token issued at run time,
# which no configured secret list knows.
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",;}]+")


#: The most of a partner's message kept: an answer that quotes the whole request
#: back is not kept whole.
MAX_MESSAGE = 300


def redact(text: str) -> str:
    """A partner's free-text message as it may be kept: every secret the redactor
    knows and the personal values in flight masked (`adapters.http.REDACTOR`),
    emails, phone-like digit runs and `Bearer` / `Basic` credentials too, cut to
    `MAX_MESSAGE` characters."""
    text = REDACTOR.mask(text)
    text = _CREDENTIAL.sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _DIGITS.sub("[redacted]", _EMAIL.sub("[redacted]", text))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


@frozen
class Call(Generic[T]):
    """One request to make and how to read its answer; building it does no I/O.

    The one description of a call for every partner: `interpret` turns the
    answer into the result or the error it means.
    """

    partner: str
    method: str
    url: str
    interpret: Callable[[httpx.Response], T] = field(repr=False)
    body: Any = field(default=None, repr=False)
    headers: Mapping[str, str] = field(factory=dict, repr=False)
    form: Mapping[str, str] | None = field(default=None, repr=False)
    params: Mapping[str, str] = field(factory=dict, repr=False)

    def request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request, its body encoded here once (a signing `httpx.Auth` signs it as sent)."""
        headers = {"Accept": "application/json", **self.headers}
        params = dict(self.params)
        if self.form is not None:
            return client.build_request(
                self.method, self.url, params=params, data=self.form, headers=headers
            )
        if self.body is None:
            return client.build_request(self.method, self.url, params=params, headers=headers)
        headers["Content-Type"] = "application/json"
        return client.build_request(
            self.method, self.url, params=params, content=encode_json(self.body), headers=headers
        )

    def answer(self, response: httpx.Response) -> T:
        logger.debug(
            "%s %s %s -> HTTP %s",
            self.partner,
            self.method,
            response.url.path,
            response.status_code,
        )
        return self.interpret(response)


def send(
    client: httpx.Client, call: Call[T], retry: RetryPolicy, auth: httpx.Auth | None = None
) -> T:
    """Make `call` with `client`, retrying what is retryable under `retry`."""

    def once() -> T:
        try:
            response = client.send(call.request(client), auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.TransportError as error:
            raise transport_error(call.partner, error) from error
        return call.answer(response)

    return call_with_retries(retry, once)


async def asend(
    client: httpx.AsyncClient, call: Call[T], retry: RetryPolicy, auth: httpx.Auth | None = None
) -> T:
    """`send` for an `httpx.AsyncClient`."""

    async def once() -> T:
        try:
            response = await client.send(
                call.request(client), auth=auth or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TransportError as error:
            raise transport_error(call.partner, error) from error
        return call.answer(response)

    return await acall_with_retries(retry, once)


def response_json(response: httpx.Response) -> Any:
    """The JSON body, or `None` when there is none or it is not JSON."""
    if not response.content:
        return None
    try:
        return decode_json(response.content)
    except ValueError:
        return None


def text_of(value: Any, default: str) -> str:
    """A partner's message field as redacted text."""
    return redact(str(value)) if value not in (None, "") else default


@frozen
class Envelope:
    """TikTok's answer envelope `{code, message, request_id, data}`; `code == 0` is success."""

    code: int | str | None = None
    message: str = ""
    request_id: str | None = None
    data: Any = field(default=None, repr=False)


def read_envelope(
    partner: str,
    response: httpx.Response,
    *,
    retryable_codes: frozenset[int] = frozenset(),
    auth_codes: frozenset[int] = frozenset(),
    auth_code_prefixes: tuple[str, ...] = (),
) -> Envelope:
    """The envelope of an answer that says success (`code` 0), or the error it means.

    For every partner that answers in TikTok's envelope: TikTok Shop, Sync
    Order Information and the Events API. TikTok answers most errors with HTTP
    200 and a non-zero `code`, so the HTTP status alone does not say the call
    worked; and an answer this library cannot read as success is not one: a
    body that is no JSON object, or a `code` that is missing or not a number,
    is a `RetryableError` (the calls carry idempotency keys, so trying again is
    safe), never counted done. A code in `retryable_codes` is retryable; one in
    `auth_codes`, or starting with one of `auth_code_prefixes`, an
    `AuthenticationError`; any other non-zero code a `RejectedError`.
    """
    body = response_json(response)
    if not isinstance(body, Mapping):
        raise status_error(partner, response) or RetryableError(
            partner,
            "the answer is not a JSON envelope",
            status=response.status_code,
            request_id=response.headers.get("x-tt-logid"),
        )
    raw_code = body.get("code")
    code = raw_code if isinstance(raw_code, int | str) and not isinstance(raw_code, bool) else None
    number = int(code) if code is not None and str(code).isdigit() else None
    request_id = body.get("request_id")
    request_id = str(request_id) if request_id else response.headers.get("x-tt-logid")
    message = text_of(body.get("message"), standard_phrase(response.status_code))
    error = status_error(partner, response, code=code, message=message, request_id=request_id)
    if error is not None:
        raise error
    if number is None:
        raise RetryableError(
            partner,
            "the envelope has no numeric code",
            status=response.status_code,
            request_id=request_id,
        )
    if number == 0:
        return Envelope(code, message, request_id, body.get("data"))
    kind: type[PartnerError] = RejectedError
    if number in retryable_codes:
        kind = RetryableError
    elif number in auth_codes or str(number).startswith(auth_code_prefixes):
        kind = AuthenticationError
    raise kind(partner, message, status=response.status_code, code=code, request_id=request_id)
