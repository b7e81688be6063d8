"""What the loops tell an operator: Prometheus metrics and one log line per input and effect.

`Metrics` defines every metric in one registry of its own (never the global
default one, so that two services in one process, or two tests, never share
counts); `serve_metrics` exposes it in Prometheus' text format over HTTP with
the official `prometheus-client` library. `Telemetry` is the one object the
service, the dispatcher and the reader call as things happen: it counts in
`Metrics` (if any) and writes one structured line per input, effect and read
job on the `adapters.inputs`, `adapters.effects` and `adapters.reads`
loggers. `NO_TELEMETRY`, the default, does neither and costs a check.
An effect attempt ends `delivered`, `retried`, `dead` or `lost` (its lease
was taken over); a read job `done`, `retried`, `dead` or `lost`.

Labels are bounded sets only: the input's kind, its outcome, the partner, the
effect's kind, the read's kind, the queue. Never an order id, a shop id, an
idempotency key or anything of the buyer's. The log lines carry the order id
and the idempotency (dedup) key, so an operator can follow one order through,
but never a payload, a reason or an error message (those may quote the buyer's
data; `order-lifecycle dead` shows the stored, secret-free reasons): only the
error's type name. `LogFormat` writes them as `key=value` text or, with
`json=True`, one JSON object per line.

| metric | type | labels |
|---|---|---|
| `order_lifecycle_inputs_received_total` | counter | `kind` |
| `order_lifecycle_inputs_processed_total` | counter | `kind`, `outcome` |
| `order_lifecycle_effect_attempts_total` | counter | `partner`, `kind`, `outcome` |
| `order_lifecycle_read_attempts_total` | counter | `kind`, `outcome` |
| `order_lifecycle_partner_call_duration_seconds` | histogram | `partner`, `operation` |
| `order_lifecycle_inbox_lag_seconds` | gauge | |
| `order_lifecycle_inbox_pending_inputs` | gauge | |
| `order_lifecycle_outbox_pending_effects` | gauge | `partner` |
| `order_lifecycle_outbox_due_effects` | gauge | `partner` |
| `order_lifecycle_outbox_oldest_due_age_seconds` | gauge | `partner` |
| `order_lifecycle_lease_renewals_total` | counter | `queue` (`outbox`) |
| `order_lifecycle_leases_lost_total` | counter | `queue` (`outbox`, `reads`) |
| `order_lifecycle_webhook_requests_total` | counter | `status` |
| `order_lifecycle_timer_changes_total` | counter | |
| `order_lifecycle_sync_runs_total` | counter | |
| `order_lifecycle_sync_last_run_timestamp_seconds` | gauge | |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from adapters.store import Backlog, InputOutcome, OutboxEntry, ReadJob, Store

__all__ = [
    "NO_TELEMETRY",
    "LogFormat",
    "Metrics",
    "Telemetry",
    "serve_metrics",
]

#: Partner calls last from milliseconds (a fake) to the HTTP timeout (30 s).
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every metric of the library, in `registry` (a new one of its own by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.inputs_received = Counter(
            "order_lifecycle_inputs_received",
            "Inputs kept in the inbox (redeliveries included), by kind.",
            ["kind"],
            registry=r,
        )
        self.inputs_processed = Counter(
            "order_lifecycle_inputs_processed",
            "Inputs processed, by kind and outcome (applied, rejected, duplicate, ...).",
            ["kind", "outcome"],
            registry=r,
        )
        self.effect_attempts = Counter(
            "order_lifecycle_effect_attempts",
            "Delivery attempts of effects, by partner, effect kind and outcome"
            " (delivered, retried, dead, lost).",
            ["partner", "kind", "outcome"],
            registry=r,
        )
        self.read_attempts = Counter(
            "order_lifecycle_read_attempts",
            "Read jobs carried out, by read kind and outcome (done, retried, dead, lost).",
            ["kind", "outcome"],
            registry=r,
        )
        self.partner_call_seconds = Histogram(
            "order_lifecycle_partner_call_duration_seconds",
            "Time of one partner call (with its retries inside), by partner and operation"
            " (the effect's kind, or the read's).",
            ["partner", "operation"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.inbox_lag = Gauge(
            "order_lifecycle_inbox_lag_seconds",
            "Age of the oldest input not processed yet (0 when none is).",
            registry=r,
        )
        self.inbox_pending = Gauge(
            "order_lifecycle_inbox_pending_inputs",
            "Inputs not processed yet.",
            registry=r,
        )
        self.outbox_pending = Gauge(
            "order_lifecycle_outbox_pending_effects",
            "Effects not delivered yet (pending or in flight), by partner.",
            ["partner"],
            registry=r,
        )
        self.outbox_due = Gauge(
            "order_lifecycle_outbox_due_effects",
            "Effects due for delivery now, by partner.",
            ["partner"],
            registry=r,
        )
        self.outbox_oldest_due = Gauge(
            "order_lifecycle_outbox_oldest_due_age_seconds",
            "How long the oldest due effect has waited, by partner (0 when none is due).",
            ["partner"],
            registry=r,
        )
        self.lease_renewals = Counter(
            "order_lifecycle_lease_renewals",
            "Leases renewed while a claimed batch ran, by queue.",
            ["queue"],
            registry=r,
        )
        self.leases_lost = Counter(
            "order_lifecycle_leases_lost",
            "Claimed items whose lease ran out and another worker took, by queue.",
            ["queue"],
            registry=r,
        )
        self.webhook_requests = Counter(
            "order_lifecycle_webhook_requests",
            "Requests the webhook endpoint answered, by HTTP status.",
            ["status"],
            registry=r,
        )
        self.timer_changes = Counter(
            "order_lifecycle_timer_changes",
            "Orders changed by a due timer.",
            registry=r,
        )
        self.sync_runs = Counter(
            "order_lifecycle_sync_runs",
            "Catch-ups with TikTok completed (every shop searched once).",
            registry=r,
        )
        self.sync_last_run = Gauge(
            "order_lifecycle_sync_last_run_timestamp_seconds",
            "When the last catch-up ended (Unix time).",
            registry=r,
        )
        self._partners: set[str] = set()

    def observe_backlog(self, backlog: Backlog, now: datetime) -> None:
        """Set the inbox and outbox gauges from what the store counted at `now`."""
        oldest = backlog.oldest_pending_input
        self.inbox_pending.set(backlog.pending_inputs)
        self.inbox_lag.set(0 if oldest is None else max((now - oldest).total_seconds(), 0))
        # A partner seen once keeps its series, at 0 when its backlog is gone.
        self._partners |= set(backlog.effects_pending)
        for partner in sorted(self._partners):
            due_at = backlog.oldest_due_effect.get(partner)
            self.outbox_pending.labels(partner).set(backlog.effects_pending.get(partner, 0))
            self.outbox_due.labels(partner).set(backlog.effects_due.get(partner, 0))
            age = 0.0 if due_at is None else max((now - due_at).total_seconds(), 0.0)
            self.outbox_oldest_due.labels(partner).set(age)


@contextmanager
def serve_metrics(metrics: Metrics, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve `metrics` in Prometheus' text format at `http://host:port/metrics` while
    inside; yields the port (a free one for `port=0`)."""
    server, thread = start_http_server(port, host, registry=metrics.registry)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class LogFormat(logging.Formatter):
    """One line per record: `time level logger message`, or with `json=True` one JSON object
    with `time` (ISO-8601, UTC), `level`, `logger`, `message` and the record's structured
    fields (a loop's line has its `event` as message).

    Structured fields are a record's `fields` (the loops' lines) or `webhook`
    (the webhook app's request lines). A traceback is never written, only the
    error's type (`error_type`): an exception's text may quote what it was given.
    """

    def __init__(self, *, json: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.json = json

    def format(self, record: logging.LogRecord) -> str:
        if not self.json:
            saved = record.exc_info, record.exc_text
            record.exc_info, record.exc_text = None, None
            try:
                line = super().format(record)
            finally:
                record.exc_info, record.exc_text = saved
            if saved[0] is not None and saved[0][0] is not None:
                line += f" error_type={saved[0][0].__name__}"
            return line
        fields = getattr(record, "fields", None)
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            # A loop's line says its fields once, as fields, not again as text.
            "message": fields["event"] if isinstance(fields, Mapping) else record.getMessage(),
        }
        for extra in (fields, getattr(record, "webhook", None)):
            if isinstance(extra, Mapping):
                document.update({k: v for k, v in extra.items() if v is not None})
        if record.exc_info and record.exc_info[0] is not None:
            document.setdefault("error_type", record.exc_info[0].__name__)
        return json.dumps(document, default=str)


_INPUTS = logging.getLogger("adapters.inputs")
_EFFECTS = logging.getLogger("adapters.effects")
_READS = logging.getLogger("adapters.reads")


class Telemetry:
    """The hooks the loops call as things happen: counted in `metrics`, and, with
    `log=True`, one structured line each on the `adapters.*` loggers."""

    def __init__(self, metrics: Metrics | None = None, *, log: bool = False) -> None:
        self.metrics = metrics
        self.log = log
        self.enabled = metrics is not None or log

    def __repr__(self) -> str:
        return f"Telemetry(metrics={self.metrics is not None}, log={self.log})"

    # ------------------------------------------------------------------ inputs

    def input_received(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.inputs_received.labels(kind).inc()

    def input_processed(
        self,
        kind: str,
        dedup_key: str,
        outcome: InputOutcome,
        order_id: str | None,
        inbox_id: int | None,
        error_type: str = "",
        attempt: int | None = None,
    ) -> None:
        if not self.enabled:
            return
        if self.metrics is not None:
            self.metrics.inputs_processed.labels(kind, outcome.value).inc()
        if self.log:
            self._line(
                _INPUTS,
                logging.WARNING if outcome is InputOutcome.DEAD else logging.INFO,
                "input",
                inbox_id=inbox_id,
                kind=kind,
                order_id=order_id,
                dedup_key=dedup_key,
                outcome=outcome.value,
                attempt=attempt,
                error_type=error_type or None,
            )

    def timer_changed(self, order_id: str, version: int | None) -> None:
        if not self.enabled:
            return
        if self.metrics is not None:
            self.metrics.timer_changes.inc()
        if self.log:
            self._line(
                _INPUTS,
                logging.INFO,
                "timer",
                order_id=order_id,
                version=version,
                outcome="applied",
            )

    # ------------------------------------------------------------------ effects

    def effect_attempted(
        self,
        entry: OutboxEntry,
        outcome: str,
        seconds: float | None,
        error: BaseException | None = None,
    ) -> None:
        """One delivery attempt: `outcome` is delivered, retried, dead or lost."""
        if not self.enabled:
            return
        if self.metrics is not None:
            self.metrics.effect_attempts.labels(entry.channel, entry.kind, outcome).inc()
            if outcome == "lost":
                self.metrics.leases_lost.labels("outbox").inc()
            if seconds is not None:
                self.metrics.partner_call_seconds.labels(entry.channel, entry.kind).observe(seconds)
        if self.log:
            self._line(
                _EFFECTS,
                logging.WARNING if outcome == "dead" else logging.INFO,
                "effect",
                outbox_id=entry.id,
                order_id=entry.order_id,
                idempotency_key=entry.idempotency_key,
                partner=entry.channel,
                kind=entry.kind,
                outcome=outcome,
                attempt=entry.attempts,
                error_type=None if error is None else type(error).__name__,
                seconds=None if seconds is None else round(seconds, 6),
            )

    def read_call(self, kind: str, seconds: float) -> None:
        """One call to TikTok for a batch of read jobs of `kind`."""
        if self.metrics is not None:
            self.metrics.partner_call_seconds.labels("tiktok_shop", kind).observe(seconds)

    def read_attempted(
        self, job: ReadJob, outcome: str, error: BaseException | None = None
    ) -> None:
        """One read job's attempt: `outcome` is done, retried, dead or lost."""
        if not self.enabled:
            return
        if self.metrics is not None:
            self.metrics.read_attempts.labels(job.kind.value, outcome).inc()
            if outcome == "lost":
                self.metrics.leases_lost.labels("reads").inc()
        if self.log:
            self._line(
                _READS,
                logging.WARNING if outcome == "dead" else logging.INFO,
                "read",
                read_id=job.id,
                kind=job.kind.value,
                target=job.target,
                shop_id=job.shop_id or None,
                outcome=outcome,
                attempt=job.attempts,
                error_type=None if error is None else type(error).__name__,
            )

    def request_answered(self, status: int) -> None:
        """The webhook endpoint answered a request with `status` (its own line logs it)."""
        if self.metrics is not None:
            self.metrics.webhook_requests.labels(str(status)).inc()

    # ------------------------------------------------------------------ leases, backlog

    def lease_renewed(self, queue: str, count: int) -> None:
        if self.metrics is not None and count:
            self.metrics.lease_renewals.labels(queue).inc()

    def lease_lost(self, queue: str) -> None:
        if self.metrics is not None:
            self.metrics.leases_lost.labels(queue).inc()

    def measure_backlog(self, store: Store, now: datetime) -> None:
        """Refresh the inbox lag and outbox backlog gauges (a loop's poll calls this)."""
        if self.metrics is not None:
            self.metrics.observe_backlog(store.backlog(now), now)

    def sync_ran(self, until: datetime | None) -> None:
        if self.metrics is not None:
            self.metrics.sync_runs.inc()
            if until is not None:
                self.metrics.sync_last_run.set(until.timestamp())

    @staticmethod
    def _line(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
        if not logger.isEnabledFor(level):
            return
        kept = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
        text = " ".join(f"{key}={value}" for key, value in kept.items())
        logger.log(level, "%s", text, extra={"fields": kept})


#: Counts nothing and logs nothing: the default of the service and the loops.
NO_TELEMETRY = Telemetry()
