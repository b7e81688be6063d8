"""A fake TikTok Shop Open API (202309) for `SandboxServer`, with TikTok's webhooks.

It checks every request the way TikTok does (app key, timestamp window,
`shop_cipher`, the access-token header and the `sign` over path, sorted query
and body), answers in TikTok's envelope `{code, message, request_id, data}`,
and keeps an order book: orders (Get Order Detail objects), shipped packages,
cancellations, returns, the idempotency keys it has seen, and the current
tokens, which `expire_access_token` invalidates so the client's refresh can be
exercised.

What it answers from the book: Get Order Detail, Search Orders, Search
Cancellations, Search Returns and Get Shipping Providers (those given by
`add_providers`, else `DEFAULT_PROVIDERS` for a delivery option a held order
names). What moves it: Ship
Package (the package's lines ship; the order becomes `AWAITING_COLLECTION`,
or `PARTIALLY_SHIPPING` while other lines wait), Cancel Order, Approve and
Reject Cancellation, Approve Return, and the test / CLI API (`add_order`,
`set_status`, `add_cancellation`, `set_cancellation_status`, `add_return`,
`set_return_status`). Each change bumps the `update_time` of what changed, by
the sandbox's `clock`, and never to a time at or before the previous one, so
changes in one second still order. Each change is also a webhook as TikTok
would send it (type 1 order status, 4 package update, 11 cancellation, 12
return), kept in `notifications` and, once `attach_webhooks` gave it a
`WebhookSender`, POSTed, signed, from a background thread: an API answer never
waits for a webhook.

The error codes it answers with are the ones the adapter's settings assume
(105002 expired token, 106001 bad signature, 36009004 bad parameters); they
are the sandbox's choice where TikTok's public record is unconfirmed. So are
the search order (`sort_field` `create_time`, `sort_order` `DESC` unless the
query says otherwise), the page tokens (opaque offsets) and the `sc_type` /
`role_type` of the package update it sends after a shipment (`SHIP` /
`SELLER`: TikTok documents `SPLIT` and `COMBINE` and says nothing of a ship).

    routes, state = tiktok_shop_sandbox(app_key="k", app_secret="s")
    with SandboxServer(routes) as server: ...
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
from attrs import define, field

from adapters.errors import SandboxInputError
from lifecycle import OrderStatus

from ._server import Received, Reply, Route

__all__ = [
    "BAD_PARAMETERS",
    "BAD_SIGNATURE",
    "DEFAULT_PROVIDERS",
    "EXPIRED_TOKEN",
    "NOT_FOUND",
    "SandboxInputError",
    "TikTokShopSandboxState",
    "WebhookSender",
    "read_orders",
    "tiktok_shop_sandbox",
]

EXPIRED_TOKEN = 105002
BAD_SIGNATURE = 106001
BAD_PARAMETERS = 36009004
NOT_FOUND = 21011001
_NO_CIPHER = ("/authorization/", "/seller/")
_SHIPPED_LINE = frozenset({"AWAITING_COLLECTION", "IN_TRANSIT", "DELIVERED", "COMPLETED"})
_SHIPPED = _SHIPPED_LINE | {"CANCELLED"}
_AFTER_COLLECTION = frozenset({"IN_TRANSIT", "DELIVERED", "COMPLETED"})
_STATUSES = frozenset(s.value for s in OrderStatus)
_MAX_DETAIL_IDS = 50
_MAX_PAGE_SIZE = 100

CANCEL_PENDING = "CANCELLATION_REQUEST_PENDING"
CANCEL_SUCCESS = "CANCELLATION_REQUEST_SUCCESS"
CANCEL_REJECTED = "CANCELLATION_REQUEST_CANCEL"
CANCEL_COMPLETE = "CANCELLATION_REQUEST_COMPLETE"
RETURN_PENDING = "RETURN_OR_REFUND_REQUEST_PENDING"

# Webhook type numbers (TikTok Shop webhooks; fudiwei SKIT EventSamples).
ORDER_STATUS_CHANGE = 1
PACKAGE_UPDATE = 4
CANCELLATION_STATUS_CHANGE = 11
RETURN_STATUS_CHANGE = 12


#: The carriers of a delivery option that a held order names and `add_providers` did not.
DEFAULT_PROVIDERS: tuple[dict[str, str], ...] = (
    {"id": "SANDBOX-UPS", "name": "UPS"},
    {"id": "SANDBOX-FEDEX", "name": "FedEx"},
    {"id": "SANDBOX-USPS", "name": "USPS"},
    {"id": "SANDBOX-DHL", "name": "DHL"},
)


def _sign(secret: str, path: str, query: Mapping[str, str], body: bytes) -> str:
    pairs = "".join(
        f"{k}{v}" for k, v in sorted(query.items()) if k not in ("sign", "access_token")
    )
    message = secret.encode() + path.encode() + pairs.encode() + body + secret.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- webhooks out


class WebhookSender:
    """POSTs webhooks to one URL, signed as TikTok signs them, from one background thread.

    `Authorization` is `hex(HMAC_SHA256(app_secret, app_key + raw_body))`. Each
    webhook is tried `attempts` times, `wait` seconds apart (doubling), on a
    connection error or an answer other than 2xx, then given up and kept in
    `failed`; delivered ones are kept in `delivered`, in order. `submit` only
    queues, so the API answer that caused the change never waits. `http` is
    the client to send with (default: one of its own, closed by `stop`).
    """

    def __init__(
        self,
        url: str,
        *,
        app_key: str,
        app_secret: str,
        attempts: int = 3,
        wait: float = 0.2,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise SandboxInputError(f"webhook URL must be http:// or https://, got {url!r}")
        if attempts < 1:
            raise SandboxInputError(f"attempts must be at least 1, got {attempts}")
        self.url = url
        self.app_key = app_key
        self._secret = app_secret
        self.attempts = attempts
        self.wait = wait
        self.delivered: list[dict[str, Any]] = []
        self.failed: list[tuple[dict[str, Any], str]] = []
        self._owns_http = http is None
        # Headers and body go out in separate writes: with Nagle's algorithm on, each
        # webhook waits for the receiver's delayed ACK (40 ms instead of ~1 ms).
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        self._http = http or httpx.Client(
            timeout=timeout, transport=httpx.HTTPTransport(socket_options=nodelay)
        )
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._abort = threading.Event()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.url!r}, app_key={self.app_key!r})"

    def signature(self, body: bytes) -> str:
        return hmac.new(
            self._secret.encode(), self.app_key.encode() + body, hashlib.sha256
        ).hexdigest()

    def start(self) -> WebhookSender:
        self._thread.start()
        return self

    def submit(self, webhook: Mapping[str, Any]) -> None:
        """Queue one webhook envelope; returns at once."""
        with self._idle:
            self._pending += 1
        self._queue.put(dict(webhook))

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted webhook was delivered or given up; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued for up to `timeout` seconds; give up the rest (kept in
        `failed` as "sandbox stopped"), then end the thread, which closes its client."""
        if self._thread.ident is None:  # never started
            if self._owns_http:
                self._http.close()
            return
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while (webhook := self._queue.get()) is not None:
                try:
                    if self._abort.is_set():
                        self.failed.append((webhook, "sandbox stopped"))
                    else:
                        self._deliver(webhook)
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()
        finally:
            if self._owns_http:
                self._http.close()

    def _deliver(self, webhook: dict[str, Any]) -> None:
        body = json.dumps(webhook, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Authorization": self.signature(body)}
        problem = "sandbox stopped"
        for attempt in range(self.attempts):
            if attempt and self._abort.wait(self.wait * 2 ** (attempt - 1)):
                break
            try:
                response = self._http.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
                continue
            if 200 <= response.status_code < 300:
                self.delivered.append(webhook)
                return
            problem = f"HTTP {response.status_code}"
        self.failed.append((webhook, problem))


# --------------------------------------------------------------------------- the order book


def _check_order(detail: Any, where: str) -> dict[str, Any]:
    if not isinstance(detail, Mapping):
        raise SandboxInputError(f"{where}: an order must be a JSON object")
    order_id = detail.get("id")
    if not isinstance(order_id, str | int) or isinstance(order_id, bool) or order_id == "":
        raise SandboxInputError(f"{where}: the order has no id")
    status = detail.get("status")
    if status not in _STATUSES:
        expected = ", ".join(sorted(_STATUSES))
        raise SandboxInputError(
            f"{where}: order {order_id}: unknown status {status!r}; expected one of {expected}"
        )
    items = detail.get("line_items")
    if not isinstance(items, list) or not items:
        raise SandboxInputError(f"{where}: order {order_id}: line_items must be a non-empty list")
    for n, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str | int):
            raise SandboxInputError(f"{where}: order {order_id}: line_items[{n}] has no id")
    order = copy.deepcopy(dict(detail))
    order["id"] = str(order_id)
    return order


def read_orders(lines: Iterable[str], source: str = "orders") -> list[dict[str, Any]]:
    """Get Order Detail objects from JSON lines: one order object per line, or a whole
    Get Order Detail response (`{"code": 0, "data": {"orders": [...]}}`). Blank lines
    are skipped; anything else raises `SandboxInputError` naming the line."""
    orders: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{source} line {number}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise SandboxInputError(f"{where}: not JSON ({error.msg})") from None
        if isinstance(value, Mapping) and "data" in value and "id" not in value:
            if value.get("code") != 0:
                raise SandboxInputError(f"{where}: a response with code {value.get('code')!r}")
            data = value.get("data")
            found = data.get("orders") if isinstance(data, Mapping) else None
            if not isinstance(found, list):
                raise SandboxInputError(f"{where}: the response has no data.orders list")
            orders.extend(_check_order(o, f"{where} orders[{i}]") for i, o in enumerate(found))
        else:
            orders.append(_check_order(value, where))
    return orders


def _lines_of(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = order.get("line_items", [])
    return lines


def _derived_status(order: Mapping[str, Any]) -> str:
    """The order status its lines imply, keeping a status the lines cannot tell apart."""
    current = str(order.get("status"))
    statuses = [line.get("display_status") for line in _lines_of(order)]
    live = [s for s in statuses if s != "CANCELLED"]
    if not live:
        return "CANCELLED"
    shipped = [s for s in live if s in _SHIPPED_LINE]
    if len(shipped) == len(live):
        return current if current in _AFTER_COLLECTION else "AWAITING_COLLECTION"
    if shipped:
        return "PARTIALLY_SHIPPING"
    return current


@define
class TikTokShopSandboxState:
    """What the fake TikTok Shop holds. Secrets stay out of `repr`.

    Every public method takes `lock` (re-entrant), so tests and the CLI may call
    them while the server answers requests.
    """

    app_key: str
    app_secret: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    shop_cipher: str
    shop_id: str = "sandbox-shop-id"
    clock: Callable[[], float] = time.time
    max_skew: int = 300
    orders: dict[str, dict[str, Any]] = field(factory=dict)
    providers: dict[str, list[dict[str, str]]] = field(factory=dict)
    shipments: dict[str, dict[str, Any]] = field(factory=dict)
    cancellations: dict[str, dict[str, Any]] = field(factory=dict)
    returns: dict[str, dict[str, Any]] = field(factory=dict)
    idempotency_keys: dict[str, dict[str, Any]] = field(factory=dict)
    applied: list[str] = field(factory=list)
    notifications: list[dict[str, Any]] = field(factory=list, repr=False)
    webhooks: WebhookSender | None = field(default=None, repr=False)
    refreshes: int = 0
    lock: threading.RLock = field(factory=threading.RLock, repr=False)
    _ids: Any = field(factory=lambda: itertools.count(1), repr=False)
    # Notification ids must not repeat across sandbox runs: the receiver dedupes by them.
    _run_prefix: str = field(factory=lambda: str(random.randrange(10**8, 10**9)), repr=False)
    _notices: Any = field(factory=lambda: itertools.count(1), repr=False)

    # ------------------------------------------------------------------ orders

    def add_order(self, order: Mapping[str, Any], *, notify: bool = False) -> None:
        """Hold one Get Order Detail object (a copy); with `notify`, send its status."""
        with self.lock:
            held = copy.deepcopy(dict(order))
            held["id"] = str(order["id"])
            self.orders[held["id"]] = held
            if notify:
                self._order_status_webhook(held)

    def load_orders(self, path: Path | str) -> int:
        """Hold every order of a JSON-lines file (see `read_orders`); how many there were."""
        path = Path(path)
        with path.open(encoding="utf-8") as lines:
            orders = read_orders(lines, source=str(path))
        with self.lock:
            for order in orders:
                self.orders[order["id"]] = order
        return len(orders)

    def set_status(self, order_id: str, status: str) -> None:
        """Move an order as TikTok itself does (hold over, carrier collected, delivered,
        completed, cancelled by the platform): its lines that are not cancelled follow,
        except to `PARTIALLY_SHIPPING`, which leaves them; `CANCELLED` cancels them all."""
        if status not in _STATUSES:
            raise SandboxInputError(f"unknown order status {status!r}")
        with self.lock:
            order = self._order(order_id)
            for line in _lines_of(order):
                if status == "CANCELLED" or (
                    status != "PARTIALLY_SHIPPING" and line.get("display_status") != "CANCELLED"
                ):
                    line["display_status"] = status
            self._moved(order, status)

    def announce(self) -> int:
        """Send a type 1 webhook for every order held, in its current status, oldest first."""
        with self.lock:
            held = sorted(self.orders.values(), key=lambda o: (o.get("create_time") or 0, o["id"]))
            for order in held:
                self._order_status_webhook(order)
            return len(held)

    def add_providers(self, delivery_option_id: str, providers: list[dict[str, str]]) -> None:
        with self.lock:
            self.providers[delivery_option_id] = list(providers)

    # ------------------------------------------------------------------ requests

    def add_cancellation(self, record: Mapping[str, Any], *, notify: bool = True) -> None:
        """Hold a cancellation (a buyer's request by default: `role` BUYER, status
        pending, every line not yet cancelled); with `notify`, send its type 11."""
        with self.lock:
            held = copy.deepcopy(dict(record))
            held["cancel_id"] = str(held["cancel_id"])
            held["order_id"] = str(held["order_id"])
            now = self._now()
            held.setdefault("cancel_status", CANCEL_PENDING)
            held.setdefault("role", "BUYER")
            held.setdefault("create_time", now)
            held.setdefault("update_time", now)
            if "cancel_line_items" not in held:
                order = self.orders.get(held["order_id"])
                lines = _lines_of(order) if order else []
                held["cancel_line_items"] = [
                    {"order_line_item_id": line["id"]}
                    for line in lines
                    if line.get("display_status") != "CANCELLED"
                ]
            self.cancellations[held["cancel_id"]] = held
            if notify:
                self._cancellation_webhook(held)
            self._cancellation_moved(held)

    def set_cancellation_status(self, cancel_id: str, status: str) -> None:
        """Move a cancellation (e.g. the buyer withdraws it); a success cancels its lines."""
        with self.lock:
            record = self.cancellations.get(cancel_id)
            if record is None:
                raise SandboxInputError(f"no cancellation {cancel_id}")
            self._set_cancellation(record, status)

    def add_return(self, record: Mapping[str, Any], *, notify: bool = True) -> None:
        """Hold a return (a buyer's pending `RETURN_AND_REFUND` by default, of every
        shipped line); with `notify`, send its type 12."""
        with self.lock:
            held = copy.deepcopy(dict(record))
            held["return_id"] = str(held["return_id"])
            held["order_id"] = str(held["order_id"])
            now = self._now()
            held.setdefault("return_status", RETURN_PENDING)
            held.setdefault("return_type", "RETURN_AND_REFUND")
            held.setdefault("role", "BUYER")
            held.setdefault("create_time", now)
            held.setdefault("update_time", now)
            if "return_line_items" not in held:
                order = self.orders.get(held["order_id"])
                lines = _lines_of(order) if order else []
                held["return_line_items"] = [
                    {"order_line_item_id": line["id"]}
                    for line in lines
                    if line.get("display_status") in _SHIPPED_LINE
                ]
            self.returns[held["return_id"]] = held
            if notify:
                self._return_webhook(held)

    def set_return_status(self, return_id: str, status: str, **fields: Any) -> None:
        """Move a return (the buyer shipped it back: `return_tracking_number=...`, ...)."""
        with self.lock:
            record = self.returns.get(return_id)
            if record is None:
                raise SandboxInputError(f"no return {return_id}")
            record.update(fields)
            record["return_status"] = status
            record["update_time"] = self._bumped(record)
            self._return_webhook(record)

    # ------------------------------------------------------------------ the rest

    def attach_webhooks(self, sender: WebhookSender | None) -> None:
        """Send every change from now on through `sender` (None: keep them only)."""
        with self.lock:
            self.webhooks = sender

    def expire_access_token(self) -> None:
        """Make the current access token expired, as TikTok does after its lifetime."""
        self.access_token = f"expired-{self.access_token}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    # ------------------------------------------------------------------ internals

    def _now(self) -> int:
        return int(self.clock())

    def _bumped(self, record: Mapping[str, Any]) -> int:
        previous = record.get("update_time")
        floor = previous + 1 if isinstance(previous, int) else 0
        return max(self._now(), floor)

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None:
            raise SandboxInputError(f"no order {order_id}")
        return order

    def _moved(self, order: dict[str, Any], status: str | None = None) -> None:
        """Lines of `order` changed: bump it, and send its status if that changed."""
        before = order.get("status")
        order["status"] = status or _derived_status(order)
        order["update_time"] = self._bumped(order)
        if order["status"] == "CANCELLED" and before != "CANCELLED":
            order.setdefault("cancellation_initiator", "SYSTEM")
        if order["status"] != before or status is not None:
            self._order_status_webhook(order)

    def _set_cancellation(self, record: dict[str, Any], status: str) -> None:
        record["cancel_status"] = status
        record["update_time"] = self._bumped(record)
        self._cancellation_webhook(record)
        self._cancellation_moved(record)

    def _cancellation_moved(self, record: Mapping[str, Any]) -> None:
        if record["cancel_status"] not in (CANCEL_SUCCESS, CANCEL_COMPLETE):
            return
        order = self.orders.get(record["order_id"])
        if order is None:
            return
        wanted = {str(i.get("order_line_item_id")) for i in record.get("cancel_line_items", [])}
        changed = False
        for line in _lines_of(order):
            if str(line["id"]) in wanted and line.get("display_status") != "CANCELLED":
                line["display_status"] = "CANCELLED"
                changed = True
        if changed:
            if all(i.get("display_status") == "CANCELLED" for i in _lines_of(order)):
                order["cancellation_initiator"] = record.get("role", "BUYER")
            self._moved(order)

    def _notify(self, kind: int, data: dict[str, Any]) -> None:
        webhook = {
            "type": kind,
            "tts_notification_id": f"{self._run_prefix}{next(self._notices):010d}",
            "shop_id": self.shop_id,
            "timestamp": self._now(),
            "data": data,
        }
        self.notifications.append(webhook)
        if self.webhooks is not None:
            self.webhooks.submit(webhook)

    def _order_status_webhook(self, order: Mapping[str, Any]) -> None:
        self._notify(
            ORDER_STATUS_CHANGE,
            {
                "order_id": order["id"],
                "order_status": order["status"],
                "update_time": order.get("update_time") or self._now(),
                "is_on_hold_order": bool(order.get("is_on_hold_order", False)),
            },
        )

    def _package_webhook(self, package_id: str, order_ids: list[str], update_time: int) -> None:
        self._notify(
            PACKAGE_UPDATE,
            {
                "sc_type": "SHIP",
                "role_type": "SELLER",
                "package_list": [{"package_id": package_id, "order_id_list": order_ids}],
                "update_time": update_time,
            },
        )

    def _cancellation_webhook(self, record: Mapping[str, Any]) -> None:
        self._notify(
            CANCELLATION_STATUS_CHANGE,
            {
                "order_id": record["order_id"],
                "cancel_id": record["cancel_id"],
                "cancellations_role": record.get("role", "BUYER"),
                "cancel_status": record["cancel_status"],
                "create_time": record.get("create_time") or self._now(),
            },
        )

    def _return_webhook(self, record: Mapping[str, Any]) -> None:
        self._notify(
            RETURN_STATUS_CHANGE,
            {
                "order_id": record["order_id"],
                "return_id": record["return_id"],
                "return_role": record.get("role", "BUYER"),
                "return_type": record.get("return_type", "RETURN_AND_REFUND"),
                "return_status": record["return_status"],
                "create_time": record.get("create_time") or self._now(),
                "update_time": record.get("update_time") or self._now(),
            },
        )


# --------------------------------------------------------------------------- checks


def _envelope(
    data: Any = None, code: int = 0, message: str = "Success", status: int = 200
) -> Reply:
    body = {"code": code, "message": message, "request_id": f"sandbox-{time.monotonic_ns()}"}
    if data is not None:
        # A copy: the reply is encoded after the lock is released.
        body["data"] = copy.deepcopy(data)
    return Reply(status, body)


def _fail(code: int, message: str) -> Reply:
    return _envelope(code=code, message=message)


#: What a caller should know when the sandbox lacks something: it holds only what it was given.
NOT_LOADED = (
    "the sandbox knows only the orders, cancellations and returns it was given"
    " (`order-lifecycle sandbox --orders FILE.jsonl` loads yours; `order-lifecycle demo`"
    " gives it its sample)"
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


class _BadRequest(Exception):
    """A request parameter TikTok would refuse (answered as BAD_PARAMETERS)."""


def _json_body(request: Received) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise _BadRequest("the body is not JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def _seconds_filter(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadRequest(f"{name} must be unix seconds")
    return value


def _ids_filter(body: Mapping[str, Any], name: str) -> set[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _BadRequest(f"{name} must be a list of ids")
    return {str(v) for v in value}


def _in_window(record: Mapping[str, Any], body: Mapping[str, Any], key: str) -> bool:
    low, high = _seconds_filter(body, f"{key}_ge"), _seconds_filter(body, f"{key}_lt")
    value = record.get(key)
    if low is None and high is None:
        return True
    if not isinstance(value, int):
        return False
    return (low is None or value >= low) and (high is None or value < high)


def _page(request: Received, found: list[dict[str, Any]], key: str, id_key: str) -> Reply:
    """One page of `found`, sorted and cut as the query asks, in TikTok's search shape."""
    query = request.query
    size_text = query.get("page_size", "50")
    if not size_text.isdigit() or not 1 <= int(size_text) <= _MAX_PAGE_SIZE:
        raise _BadRequest(f"page_size must be 1 to {_MAX_PAGE_SIZE}")
    token = query.get("page_token") or "0"
    if not token.isdigit():
        raise _BadRequest("invalid page_token")
    sort_field = query.get("sort_field", "create_time")
    if sort_field not in ("create_time", "update_time"):
        raise _BadRequest("sort_field must be create_time or update_time")
    sort_order = query.get("sort_order", "DESC").upper()
    if sort_order not in ("ASC", "DESC"):
        raise _BadRequest("sort_order must be ASC or DESC")
    found.sort(key=lambda r: (r.get(sort_field) or 0, str(r[id_key])), reverse=sort_order == "DESC")
    size, start = int(size_text), int(token)
    more = start + size < len(found)
    return _envelope(
        {
            key: found[start : start + size],
            "next_page_token": str(start + size) if more else "",
            "total_count": len(found),
        }
    )


def _searching(search: Handler) -> Handler:
    def answer(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
        try:
            return search(state, request, match)
        except _BadRequest as error:
            return _fail(BAD_PARAMETERS, str(error))

    return answer


# --------------------------------------------------------------------------- handlers


def _order_detail(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    if not ids:
        return _fail(BAD_PARAMETERS, "ids is required")
    if len(ids) > _MAX_DETAIL_IDS:
        return _fail(BAD_PARAMETERS, f"ids takes at most {_MAX_DETAIL_IDS} order ids")
    return _envelope({"orders": [state.orders[i] for i in ids if i in state.orders]})


@_searching
def _search_orders(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
    body = _json_body(request)
    status = body.get("order_status")
    if status is not None and status not in _STATUSES:
        raise _BadRequest(f"unknown order_status {status!r}")
    found = [
        order
        for order in state.orders.values()
        if (status is None or order.get("status") == status)
        and _in_window(order, body, "create_time")
        and _in_window(order, body, "update_time")
    ]
    return _page(request, found, "orders", "id")


def _search(key: str, records: str, id_key: str) -> Handler:
    @_searching
    def answer(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
        body = _json_body(request)
        order_ids = _ids_filter(body, "order_ids")
        ids = _ids_filter(body, f"{id_key}s")
        held: dict[str, dict[str, Any]] = getattr(state, records)
        found = [
            r
            for r in held.values()
            if (order_ids is None or r["order_id"] in order_ids)
            and (ids is None or r[id_key] in ids)
            and _in_window(r, body, "create_time")
            and _in_window(r, body, "update_time")
        ]
        return _page(request, found, key, id_key)

    return answer


def _providers(state: TikTokShopSandboxState, _request: Received, match: Any) -> Reply:
    option = match.group(1)
    if option in state.providers:
        return _envelope({"shipping_providers": state.providers[option]})
    if any(o.get("delivery_option_id") == option for o in state.orders.values()):
        return _envelope({"shipping_providers": list(DEFAULT_PROVIDERS)})
    return _not_found(f"delivery option {option}")


def _ship(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
    package_id = match.group(1)
    body = request.json() or {}
    shipment = body.get("self_shipment") or {}
    if not shipment.get("tracking_number") or not shipment.get("shipping_provider_id"):
        return _fail(BAD_PARAMETERS, "self_shipment needs tracking_number and shipping_provider_id")
    holding = [
        (order, line)
        for order in state.orders.values()
        for line in _lines_of(order)
        if line.get("package_id") == package_id
    ]
    if not holding:
        return _not_found(f"package {package_id}")
    if package_id in state.shipments:
        return _fail(21011006, "package already shipped")
    if all(line.get("display_status") == "CANCELLED" for _order, line in holding):
        return _fail(BAD_PARAMETERS, f"every line of package {package_id} is cancelled")
    provider_id = str(shipment["shipping_provider_id"])
    option = holding[0][0].get("delivery_option_id")
    names = {p.get("id"): p.get("name") for p in state.providers.get(str(option), [])}
    for _order, line in holding:
        if line.get("display_status") == "CANCELLED":
            continue
        line["display_status"] = "AWAITING_COLLECTION"
        line["tracking_number"] = shipment["tracking_number"]
        line["shipping_provider_id"] = provider_id
        if names.get(provider_id):
            line["shipping_provider_name"] = names[provider_id]
    state.shipments[package_id] = dict(shipment)
    orders = list({id(order): order for order, _line in holding}.values())
    for order in orders:
        order["update_time"] = state._bumped(order)
    state._package_webhook(
        package_id, [o["id"] for o in orders], max(o["update_time"] for o in orders)
    )
    for order in orders:
        before = order["status"]
        order["status"] = _derived_status(order)
        if order["status"] != before:
            state._order_status_webhook(order)
    return _envelope({})


def _cancel_order(state: TikTokShopSandboxState, request: Received, _match: Any) -> Reply:
    body = request.json() or {}
    order = state.orders.get(str(body.get("order_id")))
    if order is None:
        return _not_found("order")
    if not body.get("cancel_reason"):
        return _fail(BAD_PARAMETERS, "cancel_reason is required")
    lines = _lines_of(order)
    wanted = set(body.get("order_line_item_ids") or [i["id"] for i in lines])
    if not wanted <= {i["id"] for i in lines}:
        return _fail(BAD_PARAMETERS, "order_line_item_ids names lines the order does not have")
    if any(i.get("display_status") in _SHIPPED for i in lines if i["id"] in wanted):
        return _fail(BAD_PARAMETERS, "lines already shipped or cancelled")
    cancel_id = state.next_id("C")
    state.add_cancellation(
        {
            "cancel_id": cancel_id,
            "order_id": order["id"],
            "cancel_status": CANCEL_COMPLETE,
            "role": "SELLER",
            "cancel_reason": body["cancel_reason"],
            "cancel_line_items": [{"order_line_item_id": i} for i in sorted(wanted)],
        }
    )
    return _envelope({"cancel_id": cancel_id, "cancel_status": CANCEL_COMPLETE})


def _answer_cancellation(decision: str) -> Handler:
    def answer(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
        record = state.cancellations.get(match.group(1))
        if record is None:
            return _not_found("cancellation")

        def apply() -> Reply:
            if record["cancel_status"] != CANCEL_PENDING:
                return _fail(BAD_PARAMETERS, "cancellation is not pending")
            if decision == "reject" and not (request.json() or {}).get("reject_reason"):
                return _fail(BAD_PARAMETERS, "reject_reason is required")
            if decision == "reject":
                record["reject_reason"] = (request.json() or {})["reject_reason"]
            state._set_cancellation(
                record, CANCEL_SUCCESS if decision == "approve" else CANCEL_REJECTED
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
        if record["return_status"] != RETURN_PENDING:
            return _fail(BAD_PARAMETERS, "return is not pending")
        refund_only = record.get("return_type") == "REFUND"
        state.set_return_status(
            record["return_id"],
            "RETURN_OR_REFUND_REQUEST_SUCCESS" if refund_only else "AWAITING_BUYER_SHIP",
        )
        return _envelope({})

    return _idempotent(state, request, apply)


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


#: The sandbox's own control route: move an order as TikTok itself would.
CONTROL_PATH = "/sandbox/tiktok/orders/([^/]+)/status"


def _control_status(state: TikTokShopSandboxState, request: Received, match: Any) -> Reply:
    """`POST /sandbox/tiktok/orders/{order_id}/status {"status": "IN_TRANSIT"}`: not a
    TikTok API (so not signed); what the carrier or TikTok's own timers do in real life."""
    try:
        status = _json_body(request).get("status")
        state.set_status(match.group(1), str(status))
    except (_BadRequest, SandboxInputError) as error:
        return Reply(400, {"error": str(error)})
    with state.lock:
        return Reply(
            200, {"order_id": match.group(1), "status": state.orders[match.group(1)]["status"]}
        )


def tiktok_shop_sandbox(
    *,
    app_key: str = "sandbox-app-key",
    app_secret: str = "sandbox-app-secret",
    access_token: str = "sandbox-access-token",
    refresh_token: str = "sandbox-refresh-token",
    shop_cipher: str = "sandbox-shop-cipher",
    shop_id: str = "sandbox-shop-id",
    clock: Callable[[], float] = time.time,
) -> tuple[list[Route], TikTokShopSandboxState]:
    """The routes of the fake TikTok Shop (API and auth host on one server) and its state."""
    state = TikTokShopSandboxState(
        app_key=app_key,
        app_secret=app_secret,
        access_token=access_token,
        refresh_token=refresh_token,
        shop_cipher=shop_cipher,
        shop_id=shop_id,
        clock=clock,
    )
    rr = "/return_refund/202309"
    guarded: list[tuple[str, str, Handler]] = [
        ("GET", r"/order/202309/orders", _order_detail),
        ("POST", r"/order/202309/orders/search", _search_orders),
        ("GET", r"/logistics/202309/delivery_options/([^/]+)/shipping_providers", _providers),
        ("POST", r"/fulfillment/202309/packages/([^/]+)/ship", _ship),
        ("POST", rf"{rr}/cancellations", _cancel_order),
        (
            "POST",
            rf"{rr}/cancellations/search",
            _search("cancellations", "cancellations", "cancel_id"),
        ),
        ("POST", rf"{rr}/cancellations/([^/]+)/approve", _answer_cancellation("approve")),
        ("POST", rf"{rr}/cancellations/([^/]+)/reject", _answer_cancellation("reject")),
        ("POST", rf"{rr}/returns/search", _search("return_orders", "returns", "return_id")),
        ("POST", rf"{rr}/returns/([^/]+)/approve", _approve_return),
    ]
    routes = [
        Route(method, pattern, _guarded(state, handler)) for method, pattern, handler in guarded
    ]
    routes.append(Route("GET", r"/api/v2/token/refresh", lambda r, m: _refresh(state, r, m)))
    routes.append(Route("POST", CONTROL_PATH, lambda r, m: _control_status(state, r, m)))
    return routes, state
