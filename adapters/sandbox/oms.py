"""A sandbox OMS endpoint: it takes pushed OMS actions as a real OMS would.

`oms_routes(secret)` serves `POST OMS_PATH`. Each request must carry the
signature the `oms` partner puts on it (`X-Order-Lifecycle-Signature`,
HMAC-SHA256 of the raw body under `secret`, checked in constant time) and an
`Idempotency-Key` equal to the body's `idempotency_key`: a bad or missing
signature is answered 401, a body that is not an action 400, and nothing of
either is kept. A good one is kept in `OmsState.received` (every delivery,
repeats too) and applied once per key (`OmsState.applied`, in arrival order),
then answered 204, a repeat as well.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from attrs import define, field

from adapters.partners.oms import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify

from ._server import Received, Reply, Route

__all__ = ["OMS_PATH", "OmsState", "oms_routes"]

OMS_PATH = "/sandbox/oms/actions"
_KEYS = frozenset({"what", "order_id", "version", "lines", "return_id", "idempotency_key"})


@define
class OmsState:
    """What the sandbox OMS received: every signed delivery, and each action once."""

    secret: str = field(repr=False)
    received: list[dict[str, Any]] = field(factory=list)
    applied: dict[str, dict[str, Any]] = field(factory=dict)
    refused: int = 0
    lock: threading.Lock = field(factory=threading.Lock, repr=False)

    def actions_of(self, order_id: str) -> list[dict[str, Any]]:
        """The actions applied for `order_id`, in the order they arrived."""
        with self.lock:
            return [a for a in self.applied.values() if a["order_id"] == order_id]


def _take(state: OmsState) -> Any:
    def take(request: Received, _match: re.Match[str]) -> Reply:
        if not verify(state.secret, request.body, request.header(SIGNATURE_HEADER)):
            with state.lock:
                state.refused += 1
            return Reply(401, {"error": f"bad or missing {SIGNATURE_HEADER}"})
        try:
            action = json.loads(request.body)
        except ValueError:
            action = None
        if not isinstance(action, dict) or set(action) != _KEYS:
            return Reply(400, {"error": f"an OMS action has exactly {sorted(_KEYS)}"})
        key = action["idempotency_key"]
        if request.header(IDEMPOTENCY_HEADER) != key:
            return Reply(400, {"error": f"{IDEMPOTENCY_HEADER} differs from the body's key"})
        with state.lock:
            state.received.append(action)
            state.applied.setdefault(key, action)
        return Reply(204)

    return take


def oms_routes(secret: str) -> tuple[list[Route], OmsState]:
    """The sandbox OMS's route and the state it keeps."""
    state = OmsState(secret=secret)
    return [Route("POST", re.escape(OMS_PATH), _take(state))], state
