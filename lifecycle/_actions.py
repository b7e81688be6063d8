"""What a permitted transition does: the next order and the effects it asks for.

`perform` is the single place that builds the next `Order`. Both the declared
machine (`OrderLifecycle.send`) and the compiled fast path (`apply`) call it,
so they cannot drift apart in what a transition changes.

Echo rule (docs/rules.md, "Echoes"): TikTok Shop is only called for the seller's
own acts that came from the OMS (`Context.to_tiktok_shop`); what TikTok
reports is never sent back to it. SFCC only knows the order once the hold is
over (TikTok for SFCC: Order Management), so nothing is sent to SFCC about an
order it never received.

Reporting is opt-in: a new status is reported to Sync Order Information or
the Events API only when the policy says the shop reports to that feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from attrs import frozen

from ._effects import (
    ApproveTikTokCancellation,
    ApproveTikTokReturn,
    CancelTikTokOrder,
    CloseOrder,
    CreateSfccOrder,
    Effect,
    ExpectReturn,
    OmsAction,
    OmsLine,
    RefundIssued,
    RejectTikTokCancellation,
    ReleaseForFulfilment,
    ReleaseInventory,
    ReportTikTokEvent,
    ReserveInventory,
    SfccStatus,
    ShippingStatus,
    ShipTikTokPackage,
    StopFulfilment,
    SyncOrderInfo,
    UpdateSfccOrderStatus,
    UpdateSfccReturn,
    UpdateSfccShipping,
)
from ._model import (
    EMPTY,
    CancellationRequest,
    CancellationStatus,
    Initiator,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    ReturnStatus,
    ReturnType,
    _unchecked_make,
    make_record,
    replace_line,
    replace_order,
    replace_request,
    replace_return,
)
from ._rules import Context

#: Statuses in which something has shipped: a cancellation there is "cancel after shipped".
_HAS_SHIPPED = frozenset(
    {
        OrderStatus.PARTIALLY_SHIPPING,
        OrderStatus.AWAITING_COLLECTION,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
    }
)


@frozen
class Outcome:
    """A transition's result: the next order and the effects, in the order to carry out.

    `actions` are what the OMS must do now (`OmsAction`s, docs/oms.md), always;
    they are among `effects` too, to be pushed to the OMS, when the policy
    says so (`Policy.push_oms_actions`).
    """

    order: Order
    effects: tuple[Effect, ...]
    actions: tuple[OmsAction, ...] = ()


@frozen
class _Draft:
    """The event-specific part of a transition, before the common bookkeeping."""

    changes: dict[str, Any]
    effects: list[Effect]


#: `Outcome(...)` without attrs' `__init__`: `perform` builds one per transition.
_outcome = _unchecked_make(Outcome)
#: The effects of the commonest transitions, built from values already checked, in
#: field order and without attrs' `__init__` (`_unchecked_make`).
_sfcc_shipping = _unchecked_make(UpdateSfccShipping)
_ship_package = _unchecked_make(ShipTikTokPackage)
_sync_order_info = _unchecked_make(SyncOrderInfo)
_report_event = _unchecked_make(ReportTikTokEvent)


def _set_lines(
    order: Order, ids: Iterable[str], changes: Mapping[str, Any]
) -> tuple[OrderLine, ...]:
    """The order's lines with `changes` made to those of `ids`."""
    chosen = ids if isinstance(ids, set | frozenset) else set(ids)
    return tuple(
        [
            replace_line(line, changes) if line.line_item_id in chosen else line
            for line in order.lines
        ]
    )


def _cancel_lines(ctx: Context, version: int, target: OrderStatus, by: Initiator) -> _Draft:
    """Cancel the event's lines (every open line when the whole order goes)."""
    order, params = ctx.order, ctx.params
    ids = order.open_line_ids if params.whole else params.lines
    after_shipped = target is OrderStatus.CANCELLED and order.status in _HAS_SHIPPED
    changes: dict[str, Any] = {"lines": _set_lines(order, ids, {"status": LineStatus.CANCELLED})}
    request = order.pending_cancellation
    covers_request = request is not None and set(request.line_item_ids) <= set(ids)
    if request is not None and covers_request:
        changes["cancellation"] = replace_request(request, {"status": CancellationStatus.APPROVED})
        by = Initiator.BUYER
    elif request is not None and not set(ids).isdisjoint(request.line_item_ids):
        # TikTok cancelled some of the requested lines itself: the request stays
        # pending for the lines it still asks about.
        gone = set(ids)
        rest = tuple([i for i in request.line_item_ids if i not in gone])
        changes["cancellation"] = replace_request(request, {"line_item_ids": rest})
    if target is OrderStatus.CANCELLED:
        changes["cancelled_after_shipped"] = after_shipped
        changes["cancelled_by"] = by

    effects: list[Effect] = []
    if order.released_at is not None:
        effects.append(
            UpdateSfccOrderStatus(
                order.order_id,
                version,
                external_status=SfccStatus.CANCELLED
                if target is OrderStatus.CANCELLED
                else SfccStatus.PARTIALLY_CANCELLED,
                line_item_ids=tuple(ids),
                cancelled_after_shipped=after_shipped,
                reason=params.reason,
            )
        )
    if ctx.to_tiktok_shop:
        if request is not None and covers_request:
            effects.append(ApproveTikTokCancellation(order.order_id, version, request.cancel_id))
        else:
            effects.append(
                CancelTikTokOrder(
                    order.order_id,
                    version,
                    line_item_ids=tuple(ids),
                    whole_order=params.whole,
                    reason=params.reason,
                )
            )
    return _Draft(changes, effects)


def _pay(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    return _Draft({"paid_at": ctx.order.paid_at or ctx.now}, [])


def _release_hold(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    return _Draft({"released_at": ctx.now}, [CreateSfccOrder(ctx.order.order_id, version)])


def _cancel(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    return _cancel_lines(ctx, version, target, ctx.initiator)


def _request_cancellation(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    assert ctx.params.cancel_id is not None
    request = CancellationRequest(
        cancel_id=ctx.params.cancel_id,
        line_item_ids=ctx.params.lines,
        requested_at=ctx.now,
        reason=ctx.params.reason,
    )
    return _Draft({"cancellation": request}, [])


def _approve_cancellation(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    # The buyer asked: on TikTok this approves the request, whoever approves it here.
    return _cancel_lines(ctx, version, target, Initiator.BUYER)


def _close_request(status: CancellationStatus) -> Callable[[Context, int, OrderStatus], _Draft]:
    def close(ctx: Context, version: int, target: OrderStatus) -> _Draft:
        request = ctx.order.pending_cancellation
        assert request is not None
        effects: list[Effect] = []
        if status is CancellationStatus.REJECTED and ctx.to_tiktok_shop:
            effects.append(
                RejectTikTokCancellation(
                    ctx.order.order_id, version, request.cancel_id, reason=ctx.params.reason
                )
            )
        return _Draft({"cancellation": replace_request(request, {"status": status})}, effects)

    return close


def _ship(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    order, params = ctx.order, ctx.params
    ids, tracking = params.lines, params.tracking_number
    carrier_id, carrier, package = (
        params.shipping_provider_id,
        params.shipping_provider_name,
        params.package_id,
    )
    shipped = {
        "status": LineStatus.SHIPPED,
        "package_id": package,
        "tracking_number": tracking,
        "shipping_provider_id": carrier_id,
        "shipping_provider_name": carrier,
    }
    chosen = set(ids)
    changes: dict[str, Any] = {"lines": _set_lines(order, chosen, shipped)}
    request = order.pending_cancellation
    if request is not None and not chosen.isdisjoint(request.line_item_ids):
        # Once shipped, the buyer's cancellation does not proceed (TikTok for SFCC:
        # Order Management).
        changes["cancellation"] = replace_request(request, {"status": CancellationStatus.REJECTED})
    order_id = order.order_id
    status = (
        ShippingStatus.SHIPPED
        if target is OrderStatus.AWAITING_COLLECTION
        else ShippingStatus.PART_SHIPPED
    )
    effects: list[Effect] = [
        _sfcc_shipping(order_id, version, ids, status, tracking, carrier_id, carrier, package)
    ]
    if ctx.to_tiktok_shop:
        assert tracking is not None
        shipment = _ship_package(order_id, version, ids, tracking, package, carrier_id, carrier)
        effects.append(shipment)
    return _Draft(changes, effects)


def _nothing(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    return _Draft({}, [])


def _deliver(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    return _Draft({"delivered_at": ctx.now}, [])


def _complete(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    effect = UpdateSfccOrderStatus(
        ctx.order.order_id, version, external_status=SfccStatus.COMPLETED
    )
    return _Draft({}, [effect])


def _request_return(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    assert ctx.params.return_id is not None
    # The buyer may have asked before the library heard of it (a search result), never after.
    asked = ctx.params.requested_at
    request = ReturnRequest(
        return_id=ctx.params.return_id,
        line_item_ids=ctx.params.lines,
        requested_at=ctx.now if asked is None else min(asked, ctx.now),
        return_type=ctx.params.return_type,
        reason=ctx.params.reason,
        return_tracking_number=ctx.params.return_tracking_number,
    )
    return _Draft({"returns": (*ctx.order.returns, request)}, [])


def _next_return_status(ctx: Context, request: ReturnRequest) -> ReturnStatus:
    if ctx.event == "approve_return":
        if request.return_type is ReturnType.REFUND:
            return ReturnStatus.APPROVED
        return ReturnStatus.AWAITING_BUYER_SHIPMENT
    return {
        "reject_return": ReturnStatus.REJECTED,
        "ship_return": ReturnStatus.BUYER_SHIPPED,
        "receive_return": ReturnStatus.RECEIVED,
        "refund": ReturnStatus.REFUNDED,
        "withdraw_return": ReturnStatus.CANCELLED,
    }[ctx.event]


def _move_return(ctx: Context, version: int, target: OrderStatus) -> _Draft:
    order = ctx.order
    request = ctx.return_request
    assert request is not None
    status = _next_return_status(ctx, request)
    update: dict[str, Any] = {"status": status}
    if ctx.params.return_tracking_number:
        update["return_tracking_number"] = ctx.params.return_tracking_number
    moved = replace_return(request, update)
    changes: dict[str, Any] = {
        "returns": tuple(moved if r is request else r for r in order.returns)
    }
    effects: list[Effect] = []
    if status is ReturnStatus.REFUNDED and request.return_type is not ReturnType.REPLACEMENT:
        changes["lines"] = _set_lines(order, request.line_item_ids, {"status": LineStatus.REFUNDED})
    if ctx.event == "approve_return":
        if ctx.to_tiktok_shop:
            effects.append(ApproveTikTokReturn(order.order_id, version, request.return_id))
        if order.released_at is not None:
            effects.append(
                UpdateSfccReturn(
                    order.order_id,
                    version,
                    return_id=request.return_id,
                    return_status=status,
                    line_item_ids=request.line_item_ids,
                )
            )
    return _Draft(changes, effects)


_ACTIONS: dict[str, Callable[[Context, int, OrderStatus], _Draft]] = {
    "pay": _pay,
    "release_hold": _release_hold,
    "cancel": _cancel,
    "request_cancellation": _request_cancellation,
    "approve_cancellation": _approve_cancellation,
    "reject_cancellation": _close_request(CancellationStatus.REJECTED),
    "withdraw_cancellation": _close_request(CancellationStatus.WITHDRAWN),
    "ship": _ship,
    "collect": _nothing,
    "deliver": _deliver,
    "complete": _complete,
    "request_return": _request_return,
    "approve_return": _move_return,
    "reject_return": _move_return,
    "ship_return": _move_return,
    "receive_return": _move_return,
    "refund": _move_return,
    "withdraw_return": _move_return,
}


def _status_reports(ctx: Context, order: Order, version: int) -> list[Effect]:
    """What reaching a new status is reported as: Sync Order Information, Events API.

    Each feed only when the policy says the shop reports to it
    (`Policy.report_sync_order_info`, `Policy.report_events_api`); the status
    maps then decide which statuses are reported.
    """
    status, policy = order.status, ctx.policy
    effects: list[Effect] = []
    if policy.report_sync_order_info and status in policy.sync_order_statuses:
        cancelled_by = None
        if status is OrderStatus.CANCELLED:
            cancelled_by = order.cancelled_by or ctx.initiator
        effects.append(_sync_order_info(order.order_id, version, status, ctx.now, cancelled_by))
    if policy.report_events_api and status in policy.tiktok_event_statuses:
        effects.append(_report_event(order.order_id, version, status, ctx.now))
    return effects


def _oms_lines(lines: Iterable[OrderLine]) -> tuple[OmsLine, ...]:
    return tuple(
        OmsLine(line.line_item_id, line.sku_id, line.seller_sku, line.quantity) for line in lines
    )


def _reserve(ctx: Context, following: Order, version: int) -> list[OmsAction]:
    lines = [line for line in following.lines if line.status is LineStatus.OPEN]
    return [ReserveInventory(following.order_id, version, lines=_oms_lines(lines))]


def _release_for_fulfilment(ctx: Context, following: Order, version: int) -> list[OmsAction]:
    if ctx.to_tiktok_shop:
        return []  # the OMS released the hold itself: it knows
    lines = [line for line in following.lines if line.status is LineStatus.OPEN]
    return [ReleaseForFulfilment(following.order_id, version, lines=_oms_lines(lines))]


def _stop_and_release(ctx: Context, following: Order, version: int) -> list[OmsAction]:
    """Lines cancelled before shipment: stop them, and free their reserved units.

    Only units reserved are released: nothing was reserved before payment. A
    shipped line is never cancelled (TikTok's cancel after shipped leaves its
    shipped lines as they are), so its units are never released.
    """
    if ctx.order.status is OrderStatus.UNPAID:
        return []
    cancelled = _oms_lines(
        after
        for before, after in zip(ctx.order.lines, following.lines, strict=True)
        if before.status is LineStatus.OPEN and after.status is LineStatus.CANCELLED
    )
    if not cancelled:
        return []
    order_id = following.order_id
    release = ReleaseInventory(order_id, version, lines=cancelled)
    if ctx.to_tiktok_shop:
        return [release]  # the OMS cancelled (or approved) itself: no stop to echo back
    return [StopFulfilment(order_id, version, lines=cancelled), release]


def _return_lines(ctx: Context, following: Order) -> tuple[str, tuple[OmsLine, ...]]:
    request = ctx.return_request
    assert request is not None
    chosen = set(request.line_item_ids)
    return request.return_id, _oms_lines(
        line for line in following.lines if line.line_item_id in chosen
    )


def _expect_return(ctx: Context, following: Order, version: int) -> list[OmsAction]:
    request = following.return_request(ctx.params.return_id or "")
    if request.status is not ReturnStatus.AWAITING_BUYER_SHIPMENT:
        return []  # a refund without return: no goods come back
    return_id, lines = _return_lines(ctx, following)
    return [ExpectReturn(following.order_id, version, lines=lines, return_id=return_id)]


def _refund_issued(ctx: Context, following: Order, version: int) -> list[OmsAction]:
    if ctx.to_tiktok_shop:
        return []
    return_id, lines = _return_lines(ctx, following)
    return [RefundIssued(following.order_id, version, lines=lines, return_id=return_id)]


def _close(ctx: Context, following: Order, version: int) -> list[OmsAction]:
    if ctx.to_tiktok_shop:
        return []
    kept = [line for line in following.lines if line.status is LineStatus.SHIPPED]
    return [CloseOrder(following.order_id, version, lines=_oms_lines(kept))]


#: What each event asks of the OMS (docs/oms.md); events missing here ask nothing.
_OMS_ACTIONS: dict[str, Callable[[Context, Order, int], list[OmsAction]]] = {
    "pay": _reserve,
    "release_hold": _release_for_fulfilment,
    "cancel": _stop_and_release,
    "approve_cancellation": _stop_and_release,
    "approve_return": _expect_return,
    "refund": _refund_issued,
    "complete": _close,
}


def first_seen_actions(order: Order) -> tuple[OmsAction, ...]:
    """What the OMS must do about an order the library first sees already paid.

    An order read from TikTok past payment (no `pay` in its history) asks for
    its open lines to be reserved, and, once past the hold, released for
    fulfilment, at the order's own version: as if the library had seen it pay.
    An unpaid or final order asks nothing.
    """
    if order.status in (OrderStatus.UNPAID, OrderStatus.CANCELLED, OrderStatus.COMPLETED):
        return ()
    lines = _oms_lines(line for line in order.lines if line.status is LineStatus.OPEN)
    if not lines:
        return ()
    actions: list[OmsAction] = [ReserveInventory(order.order_id, order.version, lines=lines)]
    if order.status is not OrderStatus.ON_HOLD:
        actions.append(ReleaseForFulfilment(order.order_id, order.version, lines=lines))
    return tuple(actions)


def perform(ctx: Context, target: OrderStatus) -> Outcome:
    """Build the next order and its effects for a transition already judged legal."""
    order = ctx.order
    version = order.version + 1
    draft = _ACTIONS[ctx.event](ctx, version, target)
    params = ctx.params
    given = params.given
    now = ctx.now
    record = make_record(
        ctx.event,
        order.status,
        target,
        ctx.initiator,
        ctx.origin,
        now,
        params.reason,
        MappingProxyType({k: v for k, v in given.items() if k != "reason"}) if given else EMPTY,
    )
    updated_at = order.updated_at
    changes = draft.changes
    changes["status"] = target
    changes["updated_at"] = now if updated_at is None or updated_at < now else updated_at
    changes["history"] = (*order.history, record)
    changes["version"] = version
    following = replace_order(order, changes)
    effects = draft.effects
    if target is not order.status:
        effects += _status_reports(ctx, following, version)
    oms = _OMS_ACTIONS.get(ctx.event)
    actions = () if oms is None else tuple(oms(ctx, following, version))
    if actions and ctx.policy.push_oms_actions:
        effects += actions
    return _outcome(following, tuple(effects), actions)
