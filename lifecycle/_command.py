"""`Command`: one input to the lifecycle, as plain data.

Webhooks, OMS actions and timers all become commands; a store keeps them
and applies them with `OrderLifecycle.send` or the fast path `apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from ._actions import Outcome
from ._model import Initiator, Order, Origin, frozen_params
from ._policy import DEFAULT_POLICY, Policy
from ._table import apply
from .errors import InvalidValue


@frozen
class Command:
    """Send `event` to order `order_id`, as `initiator` reported by `origin`, at `at`."""

    order_id: str
    event: str
    initiator: Initiator
    at: datetime
    origin: Origin | None = None
    params: Mapping[str, Any] = field(factory=dict, converter=frozen_params, hash=False)

    def apply_to(self, order: Order, policy: Policy = DEFAULT_POLICY) -> Outcome:
        """Apply this command to `order` through the fast path."""
        if order.order_id != self.order_id:
            raise InvalidValue(f"command for order {self.order_id} applied to {order.order_id}")
        return apply(
            order,
            self.event,
            initiator=self.initiator,
            now=self.at,
            origin=self.origin,
            policy=policy,
            **self.params,
        )
