"""The OMS partner: each action POSTed as signed JSON with its idempotency key, or handed
to the embedding OMS's own function; what counts as success, and the secret kept out."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from adapters.errors import (
    AuthenticationError,
    RejectedError,
    RetryableError,
    SettingsError,
)
from adapters.http import RetryPolicy
from adapters.partners.oms import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    OmsCallable,
    OmsClient,
    OmsSettings,
    action_document,
    sign,
    verify,
)
from adapters.settings import check_reporting, load_partners
from adapters.wiring import PartnerSettings, build_executors
from lifecycle import CreateSfccOrder, OmsLine, Policy, StopFulfilment

SETTINGS = OmsSettings(url="https://oms.example/actions", secret="s3cret-oms")
ACTION = StopFulfilment("O1", 3, lines=(OmsLine("L2", "SKU2", "MUG-2", 1),))


def _client(handler: httpx.MockTransport) -> OmsClient:
    return OmsClient(httpx.Client(transport=handler), SETTINGS, RetryPolicy.no_retries())


def test_an_action_is_posted_as_json_signed_over_its_exact_bytes_with_its_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert (request.method, str(request.url)) == ("POST", SETTINGS.url)
        seen.append(request)
        return httpx.Response(204)

    _client(httpx.MockTransport(handler)).execute(ACTION)
    [request] = seen
    body = request.content
    assert json.loads(body) == {
        "what": "stop_fulfilment",
        "order_id": "O1",
        "version": 3,
        "lines": [{"line_item_id": "L2", "sku_id": "SKU2", "seller_sku": "MUG-2", "quantity": 1}],
        "return_id": None,
        "idempotency_key": "O1-3-StopFulfilment",
    }
    assert request.headers[IDEMPOTENCY_HEADER] == "O1-3-StopFulfilment"
    assert verify(SETTINGS.secret, body, request.headers[SIGNATURE_HEADER])
    assert not verify("another secret", body, request.headers[SIGNATURE_HEADER])
    assert not verify(SETTINGS.secret, body + b" ", request.headers[SIGNATURE_HEADER])
    assert sign(SETTINGS.secret, body).startswith("sha256=")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, RetryableError),
        (429, RetryableError),
        (401, AuthenticationError),
        (422, RejectedError),
        (302, RejectedError),
    ],
)
def test_only_a_2xx_answer_is_success(status: int, error: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Location": "https://elsewhere.example"})

    with pytest.raises(error):
        _client(httpx.MockTransport(handler)).execute(ACTION)


def test_an_effect_for_another_partner_is_refused_by_name() -> None:
    client = _client(httpx.MockTransport(lambda request: httpx.Response(200)))
    with pytest.raises(RejectedError, match="CreateSfccOrder is not an OMS action"):
        client.execute(CreateSfccOrder("O1", 2))


def test_the_secret_never_shows_in_reprs() -> None:
    client = _client(httpx.MockTransport(lambda request: httpx.Response(200)))
    for shown in (repr(SETTINGS), repr(client), repr(PartnerSettings(oms=SETTINGS))):
        assert "s3cret-oms" not in shown
    assert "s3cret-oms" in PartnerSettings(oms=SETTINGS).secrets()


def test_a_callable_that_raises_is_retried_not_buried() -> None:
    """Any exception of the embedding OMS becomes retryable: the dispatcher tries again."""
    handled = []

    def flaky(action: object) -> None:
        handled.append(action)
        if len(handled) == 1:
            raise OSError("disk full")

    executor = OmsCallable(flaky)
    with pytest.raises(RetryableError, match="OSError: disk full"):
        executor(ACTION)
    assert executor(ACTION) is None
    assert handled == [ACTION, ACTION]


def test_the_wiring_takes_a_callable_or_a_partner_section_not_both() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    taken = build_executors(PartnerSettings(), http, oms=print)
    assert set(taken) >= {"StopFulfilment", "ReserveInventory", "CloseOrder"}
    pushed = build_executors(PartnerSettings(oms=SETTINGS), http)
    assert pushed["StopFulfilment"](ACTION, None) is None  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="not both"):
        build_executors(PartnerSettings(oms=SETTINGS), http, oms=print)


def test_the_partners_file_oms_section_and_the_policy_switch(tmp_path: Path) -> None:
    path = tmp_path / "partners.json"
    path.write_text(json.dumps({"oms": {"url": SETTINGS.url, "secret": "env:OMS_SECRET_TEST"}}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OMS_SECRET_TEST", "from-env")
        partners = load_partners(path)
    assert partners.oms == OmsSettings(SETTINGS.url, "from-env")
    check_reporting(Policy(push_oms_actions=True), partners)
    with pytest.raises(SettingsError, match="no oms section"):
        check_reporting(Policy(push_oms_actions=True), PartnerSettings())
    with pytest.raises(SettingsError, match="http"):
        OmsSettings(url="ftp://oms", secret="x")
    with pytest.raises(SettingsError, match="secret"):
        OmsSettings(url=SETTINGS.url, secret="")


def test_the_document_names_a_return_and_every_line() -> None:
    from lifecycle import ExpectReturn

    action = ExpectReturn("O1", 7, lines=(OmsLine("L1", quantity=2),), return_id="R9")
    document = action_document(action)
    assert document["return_id"] == "R9"
    assert document["lines"] == [
        {"line_item_id": "L1", "sku_id": "", "seller_sku": "", "quantity": 2}
    ]
