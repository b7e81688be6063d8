"""The sandbox OMS over real HTTP: it takes what the `oms` partner signs, refuses the rest."""

from __future__ import annotations

import httpx
import pytest

from adapters.errors import AuthenticationError
from adapters.http import RetryPolicy
from adapters.partners.oms import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, OmsClient, OmsSettings
from adapters.sandbox import SandboxServer
from adapters.sandbox.oms import OMS_PATH, oms_routes
from lifecycle import OmsLine, ReleaseInventory, StopFulfilment

ACTIONS_BODY = (
    b'{"what":"close","order_id":"O1","version":9,"lines":[],"return_id":null,'
    b'"idempotency_key":"O1-9-CloseOrder"}'
)
ACTIONS = (
    StopFulfilment("O1", 3, lines=(OmsLine("L2"),)),
    ReleaseInventory("O1", 3, lines=(OmsLine("L2"),)),
)


def test_signed_actions_are_kept_each_once_and_a_bad_signature_is_refused() -> None:
    routes, state = oms_routes("the-secret")
    with SandboxServer(routes) as server, httpx.Client(timeout=10) as http:
        url = server.url + OMS_PATH
        client = OmsClient(http, OmsSettings(url, "the-secret"), RetryPolicy.no_retries())
        for action in (*ACTIONS, ACTIONS[0]):  # a redelivery of the first
            client.execute(action)
        assert [a["what"] for a in state.received] == [
            "stop_fulfilment",
            "release_inventory",
            "stop_fulfilment",
        ]
        assert list(state.applied) == ["O1-3-StopFulfilment", "O1-3-ReleaseInventory"]
        assert [a["what"] for a in state.actions_of("O1")] == [
            "stop_fulfilment",
            "release_inventory",
        ]

        forger = OmsClient(http, OmsSettings(url, "a-guess"), RetryPolicy.no_retries())
        with pytest.raises(AuthenticationError):
            forger.execute(ACTIONS[1])
        unsigned = http.post(url, content=b"{}", headers={IDEMPOTENCY_HEADER: "k"})
        assert unsigned.status_code == 401
        assert state.refused == 2
        assert len(state.received) == 3


def test_a_signed_body_that_is_no_action_is_refused_and_not_kept() -> None:
    from adapters.partners.oms import sign

    routes, state = oms_routes("the-secret")
    with SandboxServer(routes) as server:
        body = b'{"what": "reserve_inventory"}'
        answer = httpx.post(
            server.url + OMS_PATH,
            content=body,
            headers={SIGNATURE_HEADER: sign("the-secret", body), IDEMPOTENCY_HEADER: "k"},
        )
        assert answer.status_code == 400
        other_key = httpx.post(
            server.url + OMS_PATH,
            content=ACTIONS_BODY,
            headers={SIGNATURE_HEADER: sign("the-secret", ACTIONS_BODY), IDEMPOTENCY_HEADER: "k"},
        )
        assert other_key.status_code == 400
        assert state.received == []
