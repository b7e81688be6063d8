"""Read jobs, waiting inputs and marks: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from adapters.store import (
    InputOutcome,
    ReadKind,
    ReadRequest,
    ReadStatus,
    Store,
    waits_for,
)
from tests.factories import T0

NOW = T0 + timedelta(days=1)
LEASE = timedelta(minutes=5)


def detail_read(order_id: str, shop: str = "S1") -> ReadRequest:
    return ReadRequest(ReadKind.ORDER_DETAIL, shop, order_id)


def test_one_pending_read_per_thing_to_read(store: Store) -> None:
    """Requests for a read already pending add nothing: a storm makes one job."""
    assert store.request_reads([detail_read("O1")] * 3 + [detail_read("O2")], NOW) == 2
    assert store.request_reads([detail_read("O1")], NOW) == 0
    assert sorted(job.target for job in store.reads()) == ["O1", "O2"]


def test_a_claimed_read_is_leased_and_fenced_by_its_token(store: Store) -> None:
    """Only the claim that holds the lease completes a job; a stale claim cannot."""
    store.request_reads([detail_read("O1")], NOW)
    [first] = store.claim_reads(NOW, 10, LEASE)
    assert first.status is ReadStatus.IN_FLIGHT
    assert first.lease_token
    assert store.claim_reads(NOW, 10, LEASE) == [], "leased: not due again yet"

    [second] = store.claim_reads(NOW + LEASE, 10, LEASE)  # the first reader died
    assert second.lease_token != first.lease_token
    assert not store.finish_read(first.id, first.lease_token or "", NOW + LEASE)
    assert store.finish_read(second.id, second.lease_token or "", NOW + LEASE)
    [done] = store.reads(ReadStatus.DONE)
    assert done.attempts == 2


def test_a_new_request_while_one_is_in_flight_queues_a_fresh_read(store: Store) -> None:
    """A signal that arrives during a read may carry news the read missed: read again."""
    store.request_reads([detail_read("O1")], NOW)
    store.claim_reads(NOW, 10, LEASE)
    assert store.request_reads([detail_read("O1")], NOW) == 1


def test_retry_bury_and_redrive(store: Store) -> None:
    store.request_reads([detail_read("O1")], NOW)
    [job] = store.claim_reads(NOW, 10, LEASE)
    assert store.retry_read(job.id, job.lease_token or "", "RetryableError: busy", NOW + LEASE)
    assert store.claim_reads(NOW, 10, LEASE) == []
    [job] = store.claim_reads(NOW + LEASE, 10, LEASE)
    assert store.bury_read(job.id, job.lease_token or "", "NotReturned: no such order", NOW)
    [dead] = store.reads(ReadStatus.DEAD)
    assert dead.last_error == "NotReturned: no such order"
    assert store.redrive_reads(NOW) == 1
    [again] = store.reads(ReadStatus.PENDING)
    assert again.attempts == 0


def test_waiting_inputs_wake_oldest_first_and_keep_what_they_waited_for(store: Store) -> None:
    key = waits_for(ReadKind.ORDER_DETAIL, "O1")
    ids = []
    for n in range(3):
        receipt = store.receive("webhook", f"k{n}", "{}", NOW, "O1")
        assert store.finish(receipt.inbox_id, InputOutcome.WAITING, "no order", "", key)
        ids.append(receipt.inbox_id)
    other = store.receive("webhook", "other", "{}", NOW, "O2")
    store.finish(
        other.inbox_id, InputOutcome.WAITING, "", "", waits_for(ReadKind.ORDER_DETAIL, "O2")
    )
    assert [e.id for e in store.waiting("O1")] == ids
    assert store.pending(None) == []

    woken = store.wake(key)

    assert [e.id for e in woken] == ids
    assert all(e.outcome is None and e.waits_for == key for e in woken)
    assert [e.id for e in store.pending(None)] == ids
    assert [e.order_id for e in store.waiting()] == ["O2"]
    assert store.wake(key) == []


def test_marks_keep_a_value_between_runs(store: Store) -> None:
    assert store.mark("sync.watermark:S1") is None
    store.set_mark("sync.watermark:S1", "2026-11-20T10:00:00+00:00", NOW)
    store.set_mark("sync.watermark:S1", "2026-11-20T11:00:00+00:00", NOW)
    assert store.mark("sync.watermark:S1") == "2026-11-20T11:00:00+00:00"
