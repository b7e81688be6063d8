"""A fake TikTok Shop Open API (202309) for `SandboxServer`.

It checks every request the way TikTok does (app key, timestamp window,
`shop_cipher`, the access-token header and the `sign` over path, sorted query
and body), answers in TikTok's envelope `{code, message, request_id, data}`,
and keeps state: orders, shipped packages, cancellations, returns, the
idempotency keys it has seen, and the current tokens, which `expire_access_token`
invalidates so the client's refresh can be exercised.

The error codes it answers with are the ones the adapter's settings assume
(105002 expired token, 106001 bad signature, 36009004 bad parameters); they
are the sandbox's choice where TikTok's public record is unconfirmed.

    routes, state = tiktok_shop_sandbox(app_key="k", app_secret="s")
    with SandboxServer(routes) as server: ...
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from attrs import define, field

from ._server import Received, Reply, Route

EXPIRED_TOKEN = 105002
BAD_SIGNATURE = 106001
BAD_PARAMETERS = 36009004
NOT_FOUND = 21011001
_NO_CIPHER = ("/authorization/", "/seller/")
_SHIPPED = frozenset({"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED"})


def _sign(secret: str, path: str, query: Mapping[str, str], body: bytes) -> str:
    pairs = "".join(
        f"{k}{v}" for k, v in sorted(query.items()) if k not in ("sign", "access_token")
    )
    message = secret.encode() + path.encode() + pairs.encode() + body + secret.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@define
class TikTokShopSandboxState:
    """What the fake TikTok Shop holds. Secrets stay out of `repr`."""

    app_key: str
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    shop_cipher: str
    clock: Callable[[], float] = time.time
    max_skew: int = 300
    orders: dict[str, dict[str, Any]] = field(factory=dict)
    providers: dict[str, list[dict[str, str]]] = field(factory=dict)
    shipments: dict[str, dict[str, Any]] = field(factory=dict)
    cancellations: dict[str, dict[str, Any]] = field(factory=dict)
    returns: dict[str, dict[str, Any]] = field(factory=dict)
    idempotency_keys: dict[str, dict[str, Any]] = field(factory=dict)
    applied: list[str] = field(factory=list)
    refreshes: int = 0
    lock: threading.Lock = field(factory=threading.Lock, repr=False)
    _ids: Any = field(factory=lambda: itertools.count(1), repr=False)

    def add_order(self, order: Mapping[str, Any]) -> None:
        self.orders[str(order["id"])] = dict(order)

    def add_providers(self, delivery_option_id: str, providers: list[dict[str, str]]) -> None:
        self.providers[delivery_option_id] = list(providers)

    def add_cancellation(self, record: Mapping[str, Any]) -> None:
        self.cancellations[str(record["cancel_id"])] = dict(record)

    def add_return(self, record: Mapping[str, Any]) -> None:
        self.returns[str(record["return_id"])] = dict(record)

    def expire_access_token(self) -> None:
        """Make the current access token expired, as TikTok does after its lifetime."""
        self.access_token = f"expired-{self.access_token}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"


def _envelope(
    data: Any = None, code: int = 0, message: str = "Success", status: int = 200
) -> Reply:
    body = {"code": code, "message": message, "request_id": f"sandbox-{time.monotonic_ns()}"}
    if data is not None:
        body["data"] = data
    return Reply(status, body)


def _fail(code: int, message: str) -> Reply:
    return _envelope(code=code, message=message)


#: What a caller should know when the sandbox lacks something: it holds only what it was given.
NOT_LOADED = (
    "the sandbox knows only the orders, cancellations and returns it was given"
    " (`order-lifecycle demo` gives it its sample; it cannot load your own replay's orders)"
)


def _not_found(what: str) -> Reply:
    return _fail(NOT_FOUND, f"{what} not found: {NOT_LOADED}")


def _check(state: TikTokShopSandboxState, request: Received, token: str) -> Reply | None:
    """TikTok's checks of a signed API request; `None` when it passes."""
    query = request.query
    if query.get("app_key") != state.app_key:
        return _fail(BAD_PARAMETERS, "invalid app_key")
    stamp = query.get("timestamp", "")
    if not stamp.isdigit() or abs(int(stamp) - state.clock()) > state.max_skew:
        return _fail(BAD_PARAMETERS, "invalid timestamp")
    needs_cipher = not request.path.startswith(_NO_CIPHER)
    if needs_cipher and query.get("shop_cipher") != state.shop_cipher:
        return _fail(BAD_PARAMETERS, "invalid shop_cipher")
    content_type = request.header("content-type") or ""
    body = b"" if request.method == "GET" or content_type.startswith("multipart/") else request.body
    expected = _sign(state.app_secret, request.path, query, body)
    if not hmac.compare_digest(query.get("sign", ""), expected):
        return _fail(BAD_SIGNATURE, "invalid signature")
    given = request.header("x-tts-access-token")
    if given != token:
        return _fail(EXPIRED_TOKEN, "access token expired or invalid")
    return None


Handler = Callable[[TikTokShopSandboxState, Received, Any], Reply]


def _guarded(state: TikTokShopSandboxState, handler: Handler) -> Callable[[Received, Any], Reply]:
    def answer(request: Received, match: Any) -> Reply:
        with state.lock:
            refused = _check(state, request, state.access_token)
            if refused is not None:
                return refused
            return handler(state, request, match)

    return answer


def _idempotent(
    state: TikTokShopSandboxState, request: Received, apply: Callable[[], Reply]
) -> Reply:
    """Answer a repeated idempotency key with the first answer, applying it once."""
    key = request.query.get("idempotency_key")
    if not key:
        return _fail(BAD_PARAMETERS, "idempotency_key is required")
    if key in state.idempotency_keys:
        return Reply(200, state.idempotency_keys[key])
    reply = apply()
    if isinstance(reply.body, dict) and reply.body.get("code") == 0:
        state.idempotency_keys[key] = reply.body
        state.applied.append(key)
    return reply


# --------------------------------------------------------------------------- handlers


def _order_detail(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    if not ids:
        return _fail(BAD_PARAMETERS, "ids is required")
    return _envelope({"orders": [state.orders[i] for i in ids if i in state.orders]})


def _providers(state: TikTokShopSandboxState, _request: Received, match: Any) -> Reply:
    option = match.group(1)
    if option not in state.providers:
        return _not_found(f"delivery option {option}")
    return _envelope({"shipping_providers": state.providers[option]})


def _ship(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
    package_id = match.group(1)
    body = request.json() or {}
    shipment = body.get("self_shipment") or {}
    if not shipment.get("tracking_number") or not shipment.get("shipping_provider_id"):
        return _fail(BAD_PARAMETERS, "self_shipment needs tracking_number and shipping_provider_id")
    lines = [
        line
        for order in state.orders.values()
        for line in order.get("line_items", [])
        if line.get("package_id") == package_id
    ]
    if not lines:
        return _not_found(f"package {package_id}")
    if package_id in state.shipments:
        return _fail(21011006, "package already shipped")
    for line in lines:
        line["display_status"] = "AWAITING_COLLECTION"
        line["tracking_number"] = shipment["tracking_number"]
        line["shipping_provider_id"] = shipment["shipping_provider_id"]
    state.shipments[package_id] = dict(shipment)
    return _envelope({})


def _cancel_order(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
    body = request.json() or {}
    order = state.orders.get(str(body.get("order_id")))
    if order is None:
        return _not_found("order")
    if not body.get("cancel_reason"):
        return _fail(BAD_PARAMETERS, "cancel_reason is required")
    wanted = set(body.get("order_line_item_ids") or [i["id"] for i in order["line_items"]])
    if any(i.get("display_status") in _SHIPPED for i in order["line_items"] if i["id"] in wanted):
        return _fail(BAD_PARAMETERS, "lines already shipped or cancelled")
    for item in order["line_items"]:
        if item["id"] in wanted:
            item["display_status"] = "CANCELLED"
    if all(i.get("display_status") == "CANCELLED" for i in order["line_items"]):
        order["status"] = "CANCELLED"
    cancel_id = state.next_id("C")
    state.add_cancellation(
        {
            "cancel_id": cancel_id,
            "order_id": order["id"],
            "cancel_status": "CANCELLATION_REQUEST_COMPLETE",
            "role": "SELLER",
            "cancel_line_items": [{"order_line_item_id": i} for i in sorted(wanted)],
        }
    )
    return _envelope({"cancel_id": cancel_id, "cancel_status": "CANCELLATION_REQUEST_COMPLETE"})


def _answer_cancellation(decision: str) -> Handler:
    def answer(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
        record = state.cancellations.get(match.group(1))
        if record is None:
            return _not_found("cancellation")

        def apply() -> Reply:
            if record["cancel_status"] != "CANCELLATION_REQUEST_PENDING":
                return _fail(BAD_PARAMETERS, "cancellation is not pending")
            if decision == "reject" and not (request.json() or {}).get("reject_reason"):
                return _fail(BAD_PARAMETERS, "reject_reason is required")
            success = decision == "approve"
            record["cancel_status"] = (
                "CANCELLATION_REQUEST_SUCCESS" if success else "CANCELLATION_REQUEST_CANCEL"
            )
            return _envelope({})

        return _idempotent(state, request, apply)

    return answer


def _approve_return(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
    record = state.returns.get(match.group(1))
    if record is None:
        return _not_found("return")

    def apply() -> Reply:
        if not (request.json() or {}).get("decision"):
            return _fail(BAD_PARAMETERS, "decision is required")
        if record["return_status"] != "RETURN_OR_REFUND_REQUEST_PENDING":
            return _fail(BAD_PARAMETERS, "return is not pending")
        refund_only = record.get("return_type") == "REFUND"
        record["return_status"] = (
            "RETURN_OR_REFUND_REQUEST_SUCCESS" if refund_only else "AWAITING_BUYER_SHIP"
        )
        return _envelope({})

    return _idempotent(state, request, apply)


def _search(
    key: str, records: Callable[[TikTokShopSandboxState], dict[str, dict[str, Any]]], id_key: str
) -> Handler:
    def answer(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
        body = request.json() or {}
        order_ids, ids = set(body.get("order_ids") or []), set(body.get(id_key) or [])
        found = [
            r
            for r in records(state).values()
            if (not order_ids or r["order_id"] in order_ids) and (not ids or r[id_key[:-1]] in ids)
        ]
        size = int(request.query.get("page_size", "50"))
        start = int(request.query.get("page_token") or 0)
        page = found[start : start + size]
        more = start + size < len(found)
        data: dict[str, Any] = {key: page, "total_count": len(found)}
        data["next_page_token"] = str(start + size) if more else ""
        return _envelope(data)

    return answer


def _refresh(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
    query = request.query
    with state.lock:
        if query.get("app_key") != state.app_key or query.get("app_secret") != state.app_secret:
            return _fail(BAD_PARAMETERS, "invalid app_key or app_secret")
        if (
            query.get("grant_type") != "refresh_token"
            or query.get("refresh_token") != state.refresh_token
        ):
            return _fail(BAD_PARAMETERS, "invalid refresh_token")
        state.refreshes += 1
        state.access_token = f"access-{state.refreshes}"
        state.refresh_token = f"refresh-{state.refreshes}"
        expires = int(state.clock()) + 7 * 86400
        return _envelope(
            {
                "access_token": state.access_token,
                "access_token_expire_in": expires,
                "refresh_token": state.refresh_token,
                "refresh_token_expire_in": expires + 30 * 86400,
            }
        )


def tiktok_shop_sandbox(
    *,
    app_key: str = "sandbox-app-key",
    app_secret: str = "sandbox-app-secret",
    access_token: str = "sandbox-access-token",
    refresh_token: str = "sandbox-refresh-token",
    shop_cipher: str = "sandbox-shop-cipher",
    clock: Callable[[], float] = time.time,
) -> tuple[list[Route], TikTokShopSandboxState]:
    """The routes of the fake TikTok Shop (API and auth host on one server) and its state."""
    state = TikTokShopSandboxState(
        app_key=app_key,
        app_secret=app_secret,
        access_token=access_token,
        refresh_token=refresh_token,
        shop_cipher=shop_cipher,
        clock=clock,
    )
    rr = "/return_refund/202309"
    guarded: list[tuple[str, str, Handler]] = [
        ("GET", r"/order/202309/orders", _order_detail),
        ("GET", r"/logistics/202309/delivery_options/([^/]+)/shipping_providers", _providers),
        ("POST", r"/fulfillment/202309/packages/([^/]+)/ship", _ship),
        ("POST", rf"{rr}/cancellations", _cancel_order),
        (
            "POST",
            rf"{rr}/cancellations/search",
            _search("cancellations", lambda s: s.cancellations, "cancel_ids"),
        ),
        ("POST", rf"{rr}/cancellations/([^/]+)/approve", _answer_cancellation("approve")),
        ("POST", rf"{rr}/cancellations/([^/]+)/reject", _answer_cancellation("reject")),
        (
            "POST",
            rf"{rr}/returns/search",
            _search("return_orders", lambda s: s.returns, "return_ids"),
        ),
        ("POST", rf"{rr}/returns/([^/]+)/approve", _approve_return),
    ]
    routes = [
        Route(method, pattern, _guarded(state, handler)) for method, pattern, handler in guarded
    ]
    routes.append(Route("GET", r"/api/v2/token/refresh", lambda r, m: _refresh(state, r, m)))
    return routes, state
