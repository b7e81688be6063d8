"""Sandbox routes for SFCC: the OAuth token, order creation and `PATCH /orders/{order_no}`.

`sfcc_routes()` returns the routes to serve with `SandboxServer` and an
`SfccState` holding the orders. Like the cartridge it refuses a second order
with the same `c_externalOrderId`, answering HTTP 400 with `error: false` and
the existing `orderNo`; like OCAPI it answers unknown orders with a `fault`.
Tokens are issued for Basic client credentials, expire after `token_ttl`
seconds (as announced in `expires_in`; the sandbox itself keeps no clock) and
can all be revoked at once to make the next call answer 401.

With `cartridge=True` it behaves as Salesforce's social channel cartridge
does, read from its code rather than from this library's builders: creation
prices the basket from the body (`OrderCreateHelper.addItemsToBasket`,
`applyPriceAdjustments`, `setShippingCost`; order-level adjustments of
another promotion than the default are dropped, as `removePriceAdjustments`
drops them) and keeps it as `order_total`; a PATCH routes on the order's
`c_orderAction`, which stays on the order (`hooks/order/orderPatch.js`
`afterPATCH`): `cancel` / `cancel_order` cancel the products in
`c_cancelInfo.cancelItems` / every product (status 7 / 6, `orderCancel.js`),
`return` / `return_order` return those in `c_returnCase.returnItems` / every
product (`orderReturn.js`), any other action applies `product_items` and
`shipping_status`, and without an action they are ignored.
"""

from __future__ import annotations

import base64
import re
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from attrs import define, field

from ._server import Received, Reply, Route

__all__ = ["CREATE_PATH", "ORDER_PATH", "TOKEN_PATH", "SfccState", "sfcc_routes"]

TOKEN_PATH = "/dwsso/oauth2/access_token"
CREATE_PATH = "/on/demandware.store/Sites-{site_id}-Site/default/OrderCreate-Social"
ORDER_PATH = "/s/{site_id}/dw/shop/{api_version}/orders/(?P<order_no>[^/]+)"


@define
class SfccState:
    """The fake instance: issued tokens and the orders, by number and by external id."""

    client_id: str
    client_secret: str = field(repr=False)
    token_ttl: int = 1800
    orders: dict[str, dict[str, Any]] = field(factory=dict, repr=False)
    by_external_id: dict[str, str] = field(factory=dict)
    token_requests: int = 0
    cartridge: bool = False
    default_promotion: str = "TikTokPromo"
    _tokens: set[str] = field(factory=set, repr=False)
    _lock: threading.Lock = field(factory=threading.Lock, repr=False)

    def issue_token(self) -> str:
        with self._lock:
            self.token_requests += 1
            token = f"sandbox-token-{self.token_requests}"
            self._tokens.add(token)
            return token

    def revoke_tokens(self) -> None:
        """Make every issued token invalid, as an expiry or a revocation would."""
        with self._lock:
            self._tokens.clear()

    def valid(self, request: Received) -> bool:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        with self._lock:
            return scheme.lower() == "bearer" and token in self._tokens

    def create(self, body: dict[str, Any]) -> tuple[str, bool]:
        """The order number for `body`, and whether it is new (False: a duplicate)."""
        external_id = str(body["c_externalOrderId"])
        with self._lock:
            existing = self.by_external_id.get(external_id)
            if existing is not None:
                return existing, False
            order_no = f"{len(self.orders) + 1:08d}"
            order = {**body, "order_no": order_no, "shipping_status": "not_shipped"}
            if self.cartridge:
                order |= _cartridge_basket(body, self.default_promotion)
            self.orders[order_no] = order
            self.by_external_id[external_id] = order_no
            return order_no, True

    def patch(self, order_no: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Merge `body` into the order: attributes replace, `product_items` merge by product."""
        with self._lock:
            order = self.orders.get(order_no)
            if order is None:
                return None
            if self.cartridge:
                _after_patch(order, body)
                return dict(order)
            items = {item["product_id"]: dict(item) for item in order.get("product_items", [])}
            for item in body.get("product_items", []):
                items.setdefault(item["product_id"], {}).update(item)
            order.update({k: v for k, v in body.items() if k != "product_items"})
            if items:
                order["product_items"] = list(items.values())
            return dict(order)

    def order(self, external_id: str) -> dict[str, Any]:
        """The stored order for a TikTok order id."""
        return self.orders[self.by_external_id[external_id]]


def _amount(value: Any) -> Decimal:
    return Decimal(str(value))


def _cartridge_basket(body: dict[str, Any], default_promotion: str) -> dict[str, Any]:
    """The basket `OrderCreate-Social` builds from `body`: its lines and gross total."""
    total = Decimal(0)
    items = []
    for line in body.get("product_lineitems", []):
        quantity = int(line["quantity"])
        unit = (_amount(line["net_price"]) / quantity).quantize(Decimal("0.01"))
        total += unit * quantity
        if _amount(line.get("tax", 0)) > 0:
            total += _amount(line["tax"])
        for adjustment in line.get("price_adjustments", []):
            total += _amount(adjustment["net_price"]) + _amount(adjustment.get("tax", 0))
        # SHIPPING_STATUS_NOTSHIPPED, as addItemsToBasket writes it.
        items.append({"product_id": line["product_id"], "c_externalLineItemStatus": 0})
    totals = body.get("totals", {})
    if "adjusted_shipping_total" in totals:
        total += _amount(totals["adjusted_shipping_total"]["net_price"])
    for adjustment in totals.get("price_adjustments", []):
        if adjustment.get("promotion_id", default_promotion) == default_promotion:
            total += _amount(adjustment["net_price"]) + _amount(adjustment.get("tax", 0))
    # Kept as text: the answers are JSON.
    return {"product_items": items, "order_total": str(total), "c_externalChannelOrderStatus": 3}


_LINE_FIELDS = ("c_externalLineItemStatus", "c_carrier", "c_externalLineItemReturnStatus")
_ORDER_STATUS_CANCELLED = 6  # dw.order.Order.ORDER_STATUS_CANCELLED
_RETURNED = 4  # OrderUtilCode.EXTERNAL_RETURN_STATUS.RETURNED


def _after_patch(order: dict[str, Any], body: dict[str, Any]) -> None:
    """OCAPI sets the custom attributes, then `afterPATCH` routes on the order's action."""
    order.update({k: v for k, v in body.items() if k.startswith("c_")})
    action = str(order.get("c_orderAction") or "").lower()
    items = {item["product_id"]: item for item in order.get("product_items", [])}

    def listed(attribute: str, key: str) -> list[dict[str, Any]]:
        named = (body.get(attribute) or {}).get(key) or {}
        return [items[p] for p in named if p in items]

    if action == "cancel":
        for item in listed("c_cancelInfo", "cancelItems"):
            item["c_externalLineItemStatus"] = _ORDER_STATUS_CANCELLED
        order["c_externalChannelOrderStatus"] = 7
    elif action == "cancel_order":
        for item in items.values():
            item["c_externalLineItemStatus"] = _ORDER_STATUS_CANCELLED
        order["c_externalChannelOrderStatus"] = 6
    elif action in ("return", "return_order"):
        chosen = listed("c_returnCase", "returnItems") if action == "return" else items.values()
        for item in chosen:
            item["c_externalLineItemReturnStatus"] = _RETURNED
        order["c_externalReturnStatus"] = _RETURNED
    elif action:
        for line in body.get("product_items", []):
            found = items.get(line.get("product_id"))
            if found is not None:
                found.update({k: line[k] for k in (*_LINE_FIELDS, "c_trackingNumber") if k in line})
        if body.get("shipping_status") in ("shipped", "part_shipped"):
            order["shipping_status"] = body["shipping_status"]


def _unauthorised() -> Reply:
    return Reply(401, {"fault": {"type": "InvalidAccessTokenException", "message": "token"}})


def _token(state: SfccState) -> Any:
    expected = base64.b64encode(f"{state.client_id}:{state.client_secret}".encode()).decode()

    def handle(request: Received, _match: re.Match[str]) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if request.header("Authorization") != f"Basic {expected}":
            return Reply(401, {"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials":
            return Reply(400, {"error": "unsupported_grant_type"})
        token = state.issue_token()
        return Reply(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": state.token_ttl}
        )

    return handle


def _create(state: SfccState) -> Any:
    def handle(request: Received, _match: re.Match[str]) -> Reply:
        if not state.valid(request):
            return _unauthorised()
        body = request.json()
        required = ("c_externalOrderId", "currency", "product_lineitems")
        if not isinstance(body, dict) or any(not body.get(name) for name in required):
            return Reply(400, {"error": True, "msg": "Unable to parse order json"})
        order_no, new = state.create(body)
        answer = {
            "error": False,
            "orderNo": order_no,
            "c_externalChannelOrderStatus": "New",
            "shippingStatus": "Not Shipped",
            "msg": f"Success Order Created with  order #{order_no}"
            if new
            else "Order already exists",
        }
        return Reply(200 if new else 400, answer)

    return handle


def _patch(state: SfccState) -> Any:
    def handle(request: Received, match: re.Match[str]) -> Reply:
        if not state.valid(request):
            return _unauthorised()
        body = request.json()
        if not isinstance(body, dict):
            return Reply(400, {"fault": {"type": "MalformedDocumentException", "message": "body"}})
        order = state.patch(match.group("order_no"), body)
        if order is None:
            fault = {"type": "OrderNotFoundException", "message": "No order with this number."}
            return Reply(404, {"fault": fault})
        return Reply(200, order)

    return handle


def sfcc_routes(
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",
    *,
    site_id: str = "TikTokSite",
    api_version: str = "v22_6",
    token_ttl: int = 1800,
    cartridge: bool = False,
) -> tuple[list[Route], SfccState]:
    """Routes faking an SFCC instance and Account Manager, and the instance's state.

    `cartridge=True`: the instance runs Salesforce's social channel cartridge.
    """
    state = SfccState(
        client_id=client_id, client_secret=client_secret, token_ttl=token_ttl, cartridge=cartridge
    )
    create = re.escape(CREATE_PATH.format(site_id=site_id))
    order = ORDER_PATH.format(site_id=re.escape(site_id), api_version=re.escape(api_version))
    routes = [
        Route("POST", re.escape(TOKEN_PATH), _token(state)),
        Route("POST", create, _create(state)),
        Route("PATCH", order, _patch(state)),
    ]
    return routes, state
