"""The references: the same lifecycle shape in bare python-statemachine, `transitions`, a dict.

Each is built from `lifecycle.TABLE`, so it has exactly our states and
transitions, without our guards, history or effects.
"""

from __future__ import annotations

from typing import Any

from statemachine import State, StateMachine

from lifecycle import TABLE, OrderStatus


def bare_machine_class() -> type[StateMachine]:
    """python-statemachine with our states and transitions, no guards or actions."""
    states = {
        status: State(value=status, initial=status is OrderStatus.UNPAID, final=status.is_final)
        for status in OrderStatus
    }
    namespace: dict[str, Any] = {status.name.lower(): state for status, state in states.items()}
    for (source, event), entries in TABLE.items():
        for target in dict.fromkeys(entry.target for entry in entries):
            step = (
                states[source].to.itself()
                if target is source
                else states[source].to(states[target])
            )
            namespace[event] = step if event not in namespace else namespace[event] | step
    return type("BareOrderMachine", (StateMachine,), namespace)


def transitions_machine(model: object) -> Any:
    """The `transitions` library on the same shape, bound to `model`."""
    from transitions import Machine

    spec = [
        {"trigger": event, "source": source.value, "dest": entries[0].target.value}
        for (source, event), entries in TABLE.items()
    ]
    return Machine(
        model=model,
        states=[status.value for status in OrderStatus],
        transitions=spec,
        initial=OrderStatus.UNPAID.value,
        auto_transitions=False,
    )


def dict_fsm() -> dict[tuple[str, str], str]:
    """A plain dict: (state, event) -> next state."""
    return {
        (source.value, event): entries[0].target.value for (source, event), entries in TABLE.items()
    }


class Slot:
    """A model object that the bare machines write their state onto."""

    def __init__(self, state: str | None = None) -> None:
        self.state = state


class Shipment:
    """The model of `guarded_transitions_ship`: a state, open lines and a history list."""

    def __init__(self) -> None:
        self.state = OrderStatus.AWAITING_SHIPMENT.value
        self.open_lines = ["L1", "L2"]
        self.history: list[dict[str, Any]] = []


def guarded_transitions_ship() -> tuple[Shipment, Any]:
    """`transitions` shipping an order as a library user would write it: guarded, recorded.

    The `ship` transition has two conditions (the initiator is not the buyer; the
    lines are open) and an `after` callback that appends a history record of the
    event, both states, the initiator, the time and the parameters. Reset
    `model.state` to ship again.
    """
    from transitions import EventData, Machine

    model = Shipment()

    def seller_ships(event: EventData) -> bool:
        return event.kwargs["initiator"] != "BUYER"

    def lines_are_open(event: EventData) -> bool:
        return all(line in model.open_lines for line in event.kwargs.get("lines", model.open_lines))

    def record(event: EventData) -> None:
        kwargs = dict(event.kwargs)
        model.history.append(
            {
                "event": event.event.name,
                "source": event.transition.source,
                "target": event.transition.dest,
                "initiator": kwargs.pop("initiator"),
                "at": kwargs.pop("now"),
                "params": kwargs,
            }
        )

    machine = Machine(
        model=model,
        states=[status.value for status in OrderStatus],
        transitions=[
            {
                "trigger": "ship",
                "source": OrderStatus.AWAITING_SHIPMENT.value,
                "dest": OrderStatus.AWAITING_COLLECTION.value,
                "conditions": [seller_ships, lines_are_open],
                "after": record,
            }
        ],
        initial=OrderStatus.AWAITING_SHIPMENT.value,
        auto_transitions=False,
        send_event=True,
    )
    return model, machine
