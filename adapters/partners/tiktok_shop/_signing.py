"""Request signing and access-token refresh, as an `httpx.Auth`.

TikTok Shop's algorithm (the TikTok Shop Open API (202309) documentation, as
the public SDKs implement it): take the query parameters except
`sign` and `access_token`, sort them by key, concatenate them as
`{key}{value}`, put the request path in front, append the raw body unless the
request is a GET or multipart, wrap the result as `secret + s + secret` and
take HMAC-SHA256 keyed with the app secret, in lowercase hex. The signature
covers the exact bytes sent, so `TikTokShopAuth` signs the request httpx is
about to send, after the body is encoded.

Being an `httpx.Auth`, the same object signs for `httpx.Client` and
`httpx.AsyncClient`. When TikTok answers that the access token expired, the
flow refreshes it once on the auth host (`/api/v2/token/refresh`), hands the
new tokens to `on_token_refresh` so the OMS can store them, re-signs the
original request and sends it again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any

import httpx
from attrs import field, frozen

from adapters.errors import AuthenticationError
from adapters.http._redact import register_secret

PARTNER = "tiktok_shop"
log = logging.getLogger("adapters.partners.tiktok_shop")

#: Paths that take no `shop_cipher` (TikTok Shop Open API (202309) documentation).
NO_SHOP_CIPHER_PREFIXES: tuple[str, ...] = ("/authorization/", "/seller/")
#: **Unconfirmed** (third-party integrations; TikTok's common-errors page is not
#: in the public record we could read): 105002 means "access token expired".
EXPIRED_TOKEN_CODES: frozenset[int] = frozenset({105002})
_EXCLUDED = frozenset({"sign", "access_token"})
_SECRET_PARAMS = re.compile(r"\b(app_secret|refresh_token|access_token)=[^&\s\"']+")


class _RedactSecrets(logging.Filter):
    """Blank secret query values in httpx's request log lines.

    TikTok's token refresh is a GET with `app_secret` and `refresh_token` in
    the query (public SDKs), and httpx logs every request URL at INFO.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET_PARAMS.search(message):
            record.msg, record.args = _SECRET_PARAMS.sub(r"\1=[redacted]", message), None
        return True


def _redact_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactSecrets) for f in logger.filters):
        logger.addFilter(_RedactSecrets())


_redact_httpx_logs()


def signature(
    app_secret: str, path: str, query: Iterable[tuple[str, str]], body: bytes = b""
) -> str:
    """The `sign` of a request: `body` must be `b""` for GET and multipart requests."""
    pairs = sorted((k, v) for k, v in query if k not in _EXCLUDED)
    secret = app_secret.encode()
    message = b"".join(
        [secret, path.encode(), *(f"{k}{v}".encode() for k, v in pairs), body, secret]
    )
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_body(request: httpx.Request) -> bytes:
    """The part of the body that is signed: none for GET or multipart requests."""
    content_type = request.headers.get("content-type", "")
    if request.method == "GET" or content_type.startswith("multipart/"):
        return b""
    return request.content


@frozen
class TokenSet:
    """An access token and the refresh token that renews it. Tokens stay out of `repr`.

    The two `*_expire_in` values are TikTok's, as sent (public SDKs describe
    them as unix timestamps: **unconfirmed**, so they are not converted).
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_token_expire_in: int | None = None
    refresh_token_expire_in: int | None = None


class TikTokShopAuth(httpx.Auth):
    """Signs every request and refreshes the access token when TikTok says it expired.

    `clock` returns unix seconds (default `time.time`); `shop_cipher` is left
    out on paths under `no_shop_cipher_prefixes`. Secrets never appear in
    this object's `repr`, in log lines or in the errors it raises.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        tokens: TokenSet,
        shop_cipher: str | None = None,
        clock: Callable[[], float] = time.time,
        on_token_refresh: Callable[[TokenSet], None] | None = None,
        auth_base_url: str = "https://auth.tiktok-shops.com",
        refresh_path: str = "/api/v2/token/refresh",
        expired_token_codes: frozenset[int] = EXPIRED_TOKEN_CODES,
        no_shop_cipher_prefixes: tuple[str, ...] = NO_SHOP_CIPHER_PREFIXES,
    ) -> None:
        self.app_key = app_key
        self._app_secret = app_secret
        self._tokens = tokens
        self.shop_cipher = shop_cipher
        self.clock = clock
        self.on_token_refresh = on_token_refresh
        self.auth_base_url = auth_base_url.rstrip("/")
        self.refresh_path = refresh_path
        self.expired_token_codes = expired_token_codes
        self.no_shop_cipher_prefixes = no_shop_cipher_prefixes
        self._lock = threading.Lock()
        register_secret(app_secret, tokens.access_token, tokens.refresh_token)

    def __repr__(self) -> str:
        return f"TikTokShopAuth(app_key={self.app_key!r}, shop_cipher={self.shop_cipher!r})"

    @property
    def tokens(self) -> TokenSet:
        return self._tokens

    # ----------------------------------------------------------------------- signing

    def sign(self, request: httpx.Request) -> None:
        """Stamp `app_key`, `timestamp`, `shop_cipher`, `sign` and the token header."""
        params = [
            (k, v)
            for k, v in request.url.params.multi_items()
            if k not in ("app_key", "timestamp", "shop_cipher", "sign")
        ]
        params += [("app_key", self.app_key), ("timestamp", str(int(self.clock())))]
        path = request.url.path
        if self.shop_cipher and not path.startswith(self.no_shop_cipher_prefixes):
            params.append(("shop_cipher", self.shop_cipher))
        params.append(("sign", signature(self._app_secret, path, params, signed_body(request))))
        request.url = request.url.copy_with(params=params)
        request.headers["x-tts-access-token"] = self._tokens.access_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        used = self._tokens
        self.sign(request)
        response = yield request
        if _envelope_code(response) not in self.expired_token_codes:
            return
        with self._lock:
            stale = self._tokens is used
        if stale:
            refreshed = yield self._refresh_request()
            self._accept_refresh(refreshed)
        self.sign(request)
        yield request

    # ----------------------------------------------------------------------- refresh

    def _refresh_request(self) -> httpx.Request:
        return httpx.Request(
            "GET",
            f"{self.auth_base_url}{self.refresh_path}",
            params={
                "app_key": self.app_key,
                "app_secret": self._app_secret,
                "refresh_token": self._tokens.refresh_token,
                "grant_type": "refresh_token",
            },
        )

    def _accept_refresh(self, response: httpx.Response) -> None:
        """Take the new tokens from TikTok's answer, or raise `AuthenticationError`."""
        body = _json(response)
        data = body.get("data") if isinstance(body, Mapping) else None
        code = body.get("code") if isinstance(body, Mapping) else None
        request_id = body.get("request_id") if isinstance(body, Mapping) else None
        if code != 0 or not isinstance(data, Mapping) or not _tokens_in(data):
            raise AuthenticationError(
                PARTNER,
                "the access token expired and refreshing it failed; the shop may need to"
                " authorise the app again",
                status=response.status_code,
                code=code if isinstance(code, int | str) else None,  # kept if a short token
                request_id=request_id if isinstance(request_id, str) else None,
            )
        tokens = TokenSet(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            access_token_expire_in=_int_or_none(data.get("access_token_expire_in")),
            refresh_token_expire_in=_int_or_none(data.get("refresh_token_expire_in")),
        )
        # Obtained at run time: registered before anything can quote them.
        register_secret(tokens.access_token, tokens.refresh_token)
        with self._lock:
            self._tokens = tokens
        log.info("TikTok Shop access token refreshed for app_key %s", self.app_key)
        if self.on_token_refresh is not None:
            self.on_token_refresh(tokens)


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _envelope_code(response: httpx.Response) -> object:
    body = _json(response)
    return body.get("code") if isinstance(body, Mapping) else None


def _tokens_in(data: Mapping[str, Any]) -> bool:
    return all(isinstance(data.get(k), str) and data[k] for k in ("access_token", "refresh_token"))


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
