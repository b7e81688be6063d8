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
