"""Which worker of N handles an order: the one shard rule of `replay` and `work --workers N`.

An order's shard is the first four bytes of the MD5 digest of its id (its
UTF-8 bytes), read as a big-endian number, modulo N. MD5 serves here only as
a stable, well-spread hash that PostgreSQL computes natively (`md5(text)`),
so the store can pick a shard's inputs in SQL; Python's own `hash` of a
string is salted per process and would send one order to different workers.
Everything without an order id belongs to shard 0, so exactly one worker
handles it.

The same rule is written three times, kept equal by a test: `shard_of` here,
`SHARD_SQL` for PostgreSQL, and the `order_shard` function SQLite calls
(this module's `shard_of`, registered on each connection).
"""

from __future__ import annotations

import hashlib

from attrs import field, frozen

__all__ = ["SHARD_SQL", "Shard", "shard_of"]


def shard_of(order_id: str | None, count: int) -> int:
    """The shard (0 to `count` - 1) of `order_id`; shard 0 for none."""
    if order_id is None or count <= 1:
        return 0
    digest = hashlib.md5(order_id.encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % count


#: `shard_of` in PostgreSQL, for a column (`{column}`) and the count as a parameter.
SHARD_SQL = "COALESCE(mod(('x' || substr(md5({column}), 1, 8))::bit(32)::bigint, ?), 0)"


def _positive(_instance: object, _attribute: object, value: int) -> None:
    if value < 1:
        raise ValueError(f"a shard count is 1 or more, got {value}")


@frozen
class Shard:
    """Worker `index` of `count`: it handles the orders `shard_of` gives it."""

    index: int
    count: int = field(validator=_positive)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} is not one of 0 to {self.count - 1}")

    def owns(self, order_id: str | None) -> bool:
        """Whether this worker handles `order_id` (shard 0 handles what has none)."""
        return shard_of(order_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
