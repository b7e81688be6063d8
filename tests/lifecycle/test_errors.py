"""The core raises its own typed errors, every one a `LifecycleError`.

The shell rejects an input on `LifecycleError` (not on any `ValueError`), so
bad values handed to the core must be typed; they stay `ValueError` /
`TypeError` for attrs and for callers that catch those.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest

from lifecycle import (
    Initiator,
    InvalidPolicy,
    InvalidType,
    InvalidValue,
    LifecycleError,
    NaiveTime,
    OrderStatus,
    Policy,
    UnknownName,
    apply,
    reconcile,
)
from tests.factories import at, new_order


@pytest.mark.parametrize(
    ("make", "kind", "builtin", "named"),
    [
        (lambda: Policy(hold=timedelta(-1)), InvalidPolicy, ValueError, "hold"),
        (
            lambda: Policy(sync_order_statuses=["NOT_A_STATUS"]),
            InvalidPolicy,
            ValueError,
            "sync_order_statuses",
        ),
        (lambda: Policy(sync_order_statuses="COMPLETED"), InvalidType, TypeError, "string"),
        (
            lambda: attrs.evolve(new_order(), currency="usd"),
            InvalidValue,
            ValueError,
            "currency",
        ),
        (
            lambda: attrs.evolve(new_order(), total_amount=12.5),
            InvalidType,
            TypeError,
            "total_amount",
        ),
        (
            lambda: attrs.evolve(new_order(), created_at=datetime(2026, 11, 20)),
            NaiveTime,
            ValueError,
            "created_at",
        ),
        (lambda: attrs.evolve(new_order(), lines=()), InvalidValue, ValueError, "line"),
        (
            lambda: apply(
                new_order(), "pay", initiator=Initiator.PLATFORM, now=datetime(2026, 1, 1)
            ),
            NaiveTime,
            ValueError,
            "now",
        ),
        (
            lambda: apply(new_order(), "pay", initiator="ROBOT", now=at()),
            UnknownName,
            ValueError,
            "ROBOT",
        ),
        (
            lambda: reconcile(new_order(), "SHIPPED_BY_OWL", observed_at=at()),
            UnknownName,
            ValueError,
            "SHIPPED_BY_OWL",
        ),
    ],
    ids=[
        "negative window",
        "unknown policy status",
        "a string for a set",
        "bad currency",
        "float money",
        "naive order time",
        "no lines",
        "naive now",
        "unknown initiator",
        "unknown reported status",
    ],
)
def test_a_bad_value_raises_a_typed_lifecycle_error_naming_it(
    make: Callable[[], object], kind: type[Exception], builtin: type[Exception], named: str
) -> None:
    with pytest.raises(kind, match=named) as caught:
        make()
    assert isinstance(caught.value, LifecycleError)
    assert isinstance(caught.value, builtin)


def test_a_known_status_still_reconciles() -> None:
    """The typed refusal is for unknown names only: a real status is no error."""
    assert reconcile(new_order(), OrderStatus.UNPAID, observed_at=at()) == ()
