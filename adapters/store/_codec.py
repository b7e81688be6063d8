"""The store's own cattrs converter: orders and effects as JSON, and back, exactly.

`structure(unstructure(x)) == x` for every `Order` and every effect. Money
is written as a decimal string, times as ISO-8601 with their offset, enums
by value. History parameters come back as the lifecycle gave them (line ids
as tuples); `extensions` is the OMS's own data and must be JSON already.

Decoded orders share equal small values, as live ones do: one `Decimal` per
distinct amount, one `datetime` per distinct time, one copy of each event
name, SKU, product name, currency and mapping key (`adapters._util`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, override

from adapters._util import shared_amount, shared_keys, shared_text, shared_time
from adapters.errors import (
    StoreError,
)
from lifecycle import (
    EFFECT_TYPES,
    CancellationRequest,
    Effect,
    HistoryRecord,
    Order,
    OrderLine,
    Recipient,
    ReturnRequest,
)

_EFFECTS: Mapping[str, type[Effect]] = {cls.kind: cls for cls in EFFECT_TYPES}


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the lifecycle keeps in history parameters."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {shared_text(key): _tuples(item) for key, item in value.items()}
    return value


def _plain(value: Any) -> Any:
    """Mappings and tuples as JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _is_free_mapping(type_: Any) -> bool:
    """`Mapping[str, Any]` fields (history parameters, extensions) and their runtime types."""
    return type_ == Mapping[str, Any] or type_ is MappingProxyType


def _text(value: Any, _type: Any) -> str | None:
    """A text field that repeats across orders, as its one shared copy."""
    if value is None:
        return None
    return shared_text(value if type(value) is str else str(value))


#: The text fields whose values repeat across orders: vocabulary, catalogue and the
#: shop, never an order's own ids or personal data.
_SHARED_TEXTS: Mapping[type, tuple[str, ...]] = {
    Order: ("shop_id", "currency", "payment_method"),
    OrderLine: (
        "sku_id",
        "seller_sku",
        "product_name",
        "product_id",
        "shipping_provider_id",
        "shipping_provider_name",
    ),
    Recipient: ("city", "state", "district", "town", "region_code"),
    HistoryRecord: ("event", "reason"),
    CancellationRequest: ("reason",),
    ReturnRequest: ("reason",),
}


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda value, _type: shared_amount(str(value)))
    conv.register_unstructure_hook(datetime, lambda moment: moment.isoformat())
    conv.register_structure_hook(datetime, lambda value, _type: shared_time(value))
    conv.register_unstructure_hook_func(_is_free_mapping, _plain)
    conv.register_structure_hook_func(
        _is_free_mapping, lambda value, _type: shared_keys(dict(value))
    )
    for cls, names in _SHARED_TEXTS.items():
        overrides: dict[str, Any] = {name: override(struct_hook=_text) for name in names}
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **overrides))
    return conv


CONVERTER = _make_converter()


def _structure_params(value: Any) -> Mapping[str, Any]:
    return dict(_tuples(dict(value)))


def order_to_json(order: Order) -> str:
    """The order as compact JSON text; raises `StoreError` for non-JSON extensions."""
    raw = CONVERTER.unstructure(order)
    try:
        return json.dumps(raw, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise StoreError(
            f"order {order.order_id}: extensions must hold JSON values only ({error})"
        ) from None


def order_from_json(text: str | bytes) -> Order:
    """The order `order_to_json` wrote."""
    raw = json.loads(text)
    for record in raw.get("history", ()):
        record["params"] = _structure_params(record.get("params", {}))
    return CONVERTER.structure(raw, Order)


def effect_to_dict(effect: Effect) -> dict[str, Any]:
    """`kind` plus the effect's fields, as JSON values."""
    raw: dict[str, Any] = CONVERTER.unstructure(effect)
    return {"kind": effect.kind, **raw}


def effect_to_json(effect: Effect) -> str:
    return json.dumps(effect_to_dict(effect), separators=(",", ":"), sort_keys=True)


def effect_from_dict(raw: Mapping[str, Any]) -> Effect:
    fields = dict(raw)
    kind = fields.pop("kind", None)
    cls = _EFFECTS.get(str(kind))
    if cls is None:
        raise StoreError(f"unknown effect kind {kind!r}; known: {', '.join(sorted(_EFFECTS))}")
    return CONVERTER.structure(fields, cls)


def effect_from_json(text: str | bytes) -> Effect:
    return effect_from_dict(json.loads(text))
