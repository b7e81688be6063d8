"""The shard rule of `--workers N`: stable, the same in Python and in each backend's SQL.

One order must always fall to the same worker, in every process and on every
run (Python's own string hash is salted per process, so it cannot be the
rule), and the store's SQL filter (`pending`, `due_orders`) must pick the very
inputs and orders that `Shard.owns` says: a mismatch would leave inputs that
no worker takes, or take one twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from adapters.partners.tiktok_shop import detail_from_order
from adapters.service import OrderService
from adapters.store import Shard, Store, shard_of
from lifecycle import Initiator, OrderLifecycle
from tests.factories import T0, new_order

IDS = [f"5764614130{n:08d}" for n in range(60)] + ["abc", "ü€", "", "1"]


def test_shard_of_is_pinned_to_md5_so_it_never_changes_between_releases() -> None:
    assert [shard_of(order_id, 7) for order_id in ("576461413000000001", "abc", "ü€", "")] == [
        3,
        2,
        5,
        4,
    ]
    assert shard_of(None, 7) == 0
    assert all(shard_of(order_id, 1) == 0 for order_id in IDS)


def test_shard_of_is_the_same_in_processes_with_different_string_hashes() -> None:
    script = (
        "import json, sys; from adapters.store import shard_of;"
        " print(json.dumps([shard_of(i, 5) for i in json.loads(sys.argv[1])]))"
    )
    answers = {
        subprocess.run(
            [sys.executable, "-c", script, json.dumps(IDS)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert answers == {json.dumps([shard_of(order_id, 5) for order_id in IDS]) + "\n"}


def test_shard_of_spreads_orders_over_every_worker() -> None:
    counts = [0] * 4
    for number in range(4000):
        counts[shard_of(f"5764614130{number:08d}", 4)] += 1
    assert min(counts) > 800  # 1000 each on average


def test_a_shard_names_one_worker_of_its_count() -> None:
    with pytest.raises(ValueError, match="not one of 0 to 1"):
        Shard(2, 2)
    with pytest.raises(ValueError, match="1 or more"):
        Shard(0, 0)
    assert str(Shard(1, 3)) == "1/3"


@pytest.mark.parametrize("count", [2, 3])
def test_pending_inputs_split_into_shards_exactly_as_shard_owns_says(
    store: Store, count: int
) -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    for number, order_id in enumerate([*IDS, None, None]):
        store.receive("webhook", f"key-{number}", "{}", now, order_id)
    everything = {entry.id: entry.order_id for entry in store.pending(None, 1000)}
    taken: list[int] = []
    for index in range(count):
        shard = Shard(index, count)
        mine = store.pending(None, 1000, shard=shard)
        assert all(shard.owns(entry.order_id) for entry in mine)
        assert [e.id for e in mine] == sorted(e.id for e in mine)  # oldest first, still
        taken += [entry.id for entry in mine]
    assert sorted(taken) == sorted(everything)  # each input in exactly one shard
    nameless = [i for i, order_id in everything.items() if order_id is None]
    assert set(nameless) <= {e.id for e in store.pending(None, 1000, shard=Shard(0, count))}


def test_a_shard_gets_its_inputs_even_behind_a_full_batch_of_another_shards(
    store: Store,
) -> None:
    """The filter runs in SQL: a shard's one input after 50 of shard 0's is found."""
    now = datetime(2026, 11, 20, tzinfo=UTC)
    zero = [order_id for order_id in IDS if shard_of(order_id, 2) == 0]
    one = next(order_id for order_id in IDS if shard_of(order_id, 2) == 1)
    for number in range(50):
        store.receive("webhook", f"zero-{number}", "{}", now, zero[number % len(zero)])
    store.receive("webhook", "one", "{}", now, one)
    assert [e.order_id for e in store.pending(None, 10, shard=Shard(1, 2))] == [one]


def test_orders_with_timers_due_split_into_shards(store: Store) -> None:
    service = OrderService(store)
    for order_id in IDS[:30]:
        lifecycle = OrderLifecycle(new_order(2, order_id))
        lifecycle.send("pay", initiator=Initiator.BUYER, now=T0)
        service.seed(detail_from_order(lifecycle.order))
    later = T0 + timedelta(days=30)
    due = store.due_orders(later)
    assert len(due) == 30  # each order on hold has its hold's timer
    parts = [store.due_orders(later, shard=Shard(i, 3)) for i in range(3)]
    assert sorted(order_id for part in parts for order_id in part) == sorted(due)
    for index, part in enumerate(parts):
        assert all(shard_of(order_id, 3) == index for order_id in part)
        assert part == [order_id for order_id in due if order_id in part]  # earliest first
