"""Telemetry: the counters agree with the store, every metric has a bounded label set, and
the log lines carry the order id and the key but never a payload, a reason or a secret."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.errors import RejectedError, RetryableError
from adapters.service import (
    Dispatcher,
    EffectContext,
    LogFormat,
    Metrics,
    OrderService,
    Telemetry,
    serve_metrics,
)
from adapters.store import InputOutcome, OutboxStatus, SqliteStore, Store
from lifecycle import Effect
from tests.factories import T0, at
from tests.store.helpers import SHOP, cancel_webhook, seed_detail, seller, status_webhook

ORDER = "576461413038785752"
NOW = T0 + timedelta(days=30)


@pytest.fixture
def store() -> Iterator[Store]:
    opened = SqliteStore(":memory:")
    yield opened
    opened.close()


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the `adapters` loggers write, one JSON object per line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogFormat(json=True))
    logger = logging.getLogger("adapters")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric, by their labels, as a scrape reads them."""
    from prometheus_client import generate_latest

    found = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def filled(store: Store, telemetry: Telemetry) -> OrderService:
    service = OrderService(store, clock=lambda: NOW, telemetry=telemetry)
    service.seed(seed_detail(ORDER), shop_id=SHOP)
    service.webhook(status_webhook(ORDER, "ON_HOLD", T0))
    service.webhook(status_webhook(ORDER, "ON_HOLD", T0))  # a redelivery
    service.webhook(status_webhook(ORDER, "NO_SUCH_STATUS", T0))  # rejected
    service.tick(at(hours=1))
    service.webhook(cancel_webhook(ORDER, "CANCELLATION_REQUEST_PENDING", "C1", at(hours=2)))
    service.command(seller(ORDER, "approve_cancellation", at(hours=3), cancel_id="C1"))
    return service


def test_two_registries_never_share_counts(store: Store) -> None:
    """Each `Metrics` has a registry of its own: one service's inputs are not another's."""
    counted, other = Metrics(), Metrics()
    filled(store, Telemetry(counted))
    assert sum(samples(counted, "order_lifecycle_inputs_received_total").values()) == 6
    assert samples(other, "order_lifecycle_inputs_received_total") == {}


def test_inputs_are_counted_by_kind_and_outcome_as_the_inbox_finished_them(store: Store) -> None:
    metrics = Metrics()
    filled(store, Telemetry(metrics))
    processed = samples(metrics, "order_lifecycle_inputs_processed_total")
    inbox = Counter(
        (("kind", e.kind), ("outcome", e.outcome.value)) for e in store.inbox() if e.outcome
    )
    # The redelivery is counted as a duplicate; the inbox counts it on the first row.
    inbox[(("kind", "webhook"), ("outcome", InputOutcome.DUPLICATE.value))] += 1
    assert processed == {labels: float(n) for labels, n in inbox.items()}
    assert sum(samples(metrics, "order_lifecycle_timer_changes_total").values()) == 1


def test_effect_attempts_match_the_outbox_delivered_retried_and_dead(store: Store) -> None:
    """delivered = done rows, dead = dead rows, retried = the attempts before the last."""
    filled(store, Telemetry())
    metrics = Metrics()
    failures: Counter[str] = Counter()

    def flaky(effect: Effect, context: EffectContext) -> Mapping[str, str] | None:
        failures[effect.kind] += 1
        if effect.kind == "CreateSfccOrder" and failures[effect.kind] < 3:
            raise RetryableError("sfcc", "503")
        if effect.kind == "ApproveTikTokCancellation":
            raise RejectedError("tiktok_shop", "no")
        return None

    clock = [NOW]
    executors = {e.kind: flaky for e in store.outbox()}
    dispatcher = Dispatcher(
        store, executors, clock=lambda: clock[0], telemetry=Telemetry(metrics), max_attempts=5
    )
    for _ in range(6):
        dispatcher.drain()
        clock[0] += timedelta(hours=2)
    outbox = store.outbox()
    attempts = samples(metrics, "order_lifecycle_effect_attempts_total")

    def counted(outcome: str) -> float:
        return sum(v for labels, v in attempts.items() if ("outcome", outcome) in labels)

    assert counted("delivered") == sum(e.status is OutboxStatus.DONE for e in outbox) > 0
    assert counted("dead") == sum(e.status is OutboxStatus.DEAD for e in outbox) > 0
    assert counted("retried") == sum(e.attempts - 1 for e in outbox) == 2
    calls = samples(metrics, "order_lifecycle_partner_call_duration_seconds_count")
    assert sum(calls.values()) == sum(e.attempts for e in outbox)
    for labels in [*attempts, *calls]:
        assert dict(labels).keys() <= {"partner", "kind", "outcome", "operation"}
        assert ORDER not in str(labels)


def test_one_json_line_per_input_and_effect_with_order_and_key_but_no_payload(
    store: Store, lines: io.StringIO
) -> None:
    filled(store, Telemetry(log=True))
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    inputs = [r for r in records if r["event"] == "input"]
    assert len(inputs) == 6
    for record in inputs:
        assert record["logger"] == "adapters.inputs"
        assert record["order_id"] == ORDER
        assert record["dedup_key"]
        assert set(record) <= {
            "time",
            "level",
            "logger",
            "message",
            "event",
            "inbox_id",
            "kind",
            "order_id",
            "dedup_key",
            "outcome",
            "attempt",
            "error_type",
        }
    [rejected] = [r for r in inputs if r["outcome"] == "rejected"]
    assert rejected["error_type"] == "UnknownValue"
    assert "NO_SUCH_STATUS" not in lines.getvalue()  # the reason stays in the store

    Dispatcher(store, {}, clock=lambda: NOW, telemetry=Telemetry(log=True)).drain()
    effects = [json.loads(line) for line in lines.getvalue().splitlines()][len(records) :]
    assert effects
    assert {(e["event"], e["outcome"], e["error_type"]) for e in effects} == {
        ("effect", "dead", "NoExecutor")
    }
    assert all(e["idempotency_key"].startswith(ORDER) for e in effects)


def test_the_metrics_endpoint_serves_prometheus_text_on_the_loopback(store: Store) -> None:
    """Real HTTP on 127.0.0.1, a free port; the gauges show the backlog the store counts."""
    metrics = Metrics()
    filled(store, Telemetry(metrics))
    Telemetry(metrics).measure_backlog(store, NOW + timedelta(seconds=90))
    with serve_metrics(metrics, "127.0.0.1", 0) as port:
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert families["order_lifecycle_inbox_lag_seconds"].samples[0].value == 0
    backlog = store.backlog(NOW + timedelta(seconds=90))
    due = {
        s.labels["partner"]: s.value for s in families["order_lifecycle_outbox_due_effects"].samples
    }
    assert due == {partner: float(n) for partner, n in backlog.effects_due.items()}
    oldest = families["order_lifecycle_outbox_oldest_due_age_seconds"].samples
    assert {s.value for s in oldest} == {90.0}
