"""Feed a file of inputs (JSON lines) through the service.

Each line is one of:

* a TikTok webhook envelope exactly as TikTok sends it (`type`, `shop_id`,
  `timestamp`, `data`);
* `{"order_detail": {...}}`: one order object as Get Order Detail returns it,
  which seeds the order (or re-reads a stored one); `shop_id` and
  `extensions` (the OMS's own data) may stand beside it;
* a whole Get Order Detail (or Search Orders) response, `{"code": 0,
  "data": {"orders": [...]}, ...}`, bare or as the `order_detail`: each of
  its orders is seeded as if it stood on a line of its own;
* `{"command": EVENT, "order_id": ..., "initiator": ..., "at": ISO-8601, ...}`:
  an OMS action, its parameters beside it under TikTok's names
  (`line_item_ids`, `package_id`, `tracking_number`, `shipping_provider_id`,
  `cancel_id`, `return_id`, `reason`, ...), optionally an `origin`; the
  initiator and origin in any case (`seller` or `SELLER`);
* `{"tick": ISO-8601}`: advance the clock, applying the timers due then.

A line that is not one of these raises `BadLine` naming what is wrong; the
caller reports it and goes on with the next line.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from attrs import define, field, frozen

from adapters.errors import (
    BadLine,
)
from adapters.service import OrderService, Result
from adapters.store import InputOutcome, Shard, is_unavailable
from lifecycle import Command, Initiator, Origin

__all__ = ["BadLine", "LineResult", "ReplayPart", "ReplayReport", "parse_time", "replay"]

_COMMAND_KEYS = frozenset({"command", "order_id", "initiator", "at", "origin"})
_WEBHOOK_KEYS = frozenset({"type", "shop_id", "timestamp", "data"})


@frozen
class LineResult:
    """One line's fate: its number, and the results it produced (a tick may give many)."""

    line: int
    kind: str
    results: tuple[Result, ...] = ()
    error_type: str = ""
    reason: str = ""


class _Touched:
    """The orders a replay touched, each once, in the order first touched.

    Kept in a private temporary SQLite database (deleted when closed), not in
    memory: a replay of ten million inputs touches millions of orders, and
    its memory must not grow with them. The latest ids are also kept in a
    small dict, since an order's inputs come close together.
    """

    _RECENT = 4096

    def __init__(self, path: str = "") -> None:
        # `path`: a file another process merges (`ReplayReport.merged`); "" a private one.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE touched (seq INTEGER PRIMARY KEY, order_id TEXT NOT NULL UNIQUE,"
            " line INTEGER NOT NULL DEFAULT 0, sub INTEGER NOT NULL DEFAULT 0)"
        )
        self._recent: dict[str, None] = {}
        self._count = 0

    def add(self, order_id: str, line: int = 0, sub: int = 0) -> None:
        """Keep `order_id`, first touched by the `sub`-th result of line `line`."""
        recent = self._recent
        if order_id in recent:
            return
        recent[order_id] = None
        if len(recent) > self._RECENT:
            del recent[next(iter(recent))]
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO touched (order_id, line, sub) VALUES (?, ?, ?)",
            (order_id, line, sub),
        )
        self._count += cursor.rowcount

    def save(self) -> None:
        """Commit the ids to the file, for the process that merges them."""
        self._db.commit()
        self._db.close()

    def merge(self, paths: Sequence[str]) -> None:
        """Add the ids of other workers' files, in the order of the lines that first touched
        them (within one line, by the result's place in it), as one replay touched them."""
        selects = []
        for number, path in enumerate(paths):
            self._db.execute(f"ATTACH DATABASE ? AS part{number}", (path,))
            selects.append(
                f"SELECT order_id, line, sub, seq, {number} AS part FROM part{number}.touched"
            )
        if selects:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO touched (order_id, line, sub)"
                " SELECT order_id, line, sub FROM ("
                + " UNION ALL ".join(selects)
                + ") ORDER BY line, sub, part, seq"
            )
            self._count += cursor.rowcount
            self._db.commit()
        for number in range(len(paths)):
            self._db.execute(f"DETACH DATABASE part{number}")

    def __len__(self) -> int:
        return self._count

    def __contains__(self, order_id: object) -> bool:
        if order_id in self._recent:
            return True
        found = self._db.execute("SELECT 1 FROM touched WHERE order_id = ?", (order_id,))
        return found.fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        cursor = self._db.execute("SELECT order_id FROM touched ORDER BY seq")
        while rows := cursor.fetchmany(1000):
            for (order_id,) in rows:
                yield order_id


@define
class ReplayReport:
    """What a replay did, kept as counts: its memory does not grow with the inputs.

    Only the rejected inputs and bad lines are listed (with their line
    numbers), and the orders touched, once each, on disk (`iter_order_ids`).
    """

    inputs: int = 0
    _orders: _Touched = field(factory=_Touched, repr=False, eq=False)
    _counts: Counter[str] = field(factory=Counter)
    _rejected: list[tuple[int, str | None, str, str]] = field(factory=list)

    @property
    def order_ids(self) -> list[str]:
        """The orders the replay touched, in the order it first touched them."""
        return list(self._orders)

    def iter_order_ids(self) -> Iterator[str]:
        """`order_ids` one at a time, read from disk: for replays of millions of orders."""
        return iter(self._orders)

    @property
    def orders_touched(self) -> int:
        """How many distinct orders the replay touched."""
        return len(self._orders)

    def touched(self, order_id: str) -> bool:
        """Whether the replay touched `order_id`."""
        return order_id in self._orders

    def add(
        self, line: LineResult, *, counted: bool = True, places: Mapping[str, int] | None = None
    ) -> None:
        """Count one line's results; list it if it was bad or rejected.

        A line is one input, except a Get Order Detail response, each of whose
        orders is one (as each is kept in the inbox on its own), so that the
        outcomes add up to the inputs. `counted=False`: a tick another worker
        counts, of which this worker counts only the timer changes of its orders.
        `places`: where each order stands in a Get Order Detail response this
        worker seeds part of (by default, the results' own order).
        """
        if line.kind == "order_detail":
            self.inputs += len(line.results)
        elif counted:
            self.inputs += 1
        if line.error_type:
            self._counts["bad line"] += 1
            self._rejected.append((line.line, None, line.error_type, line.reason))
        elif line.kind == "tick":
            self._counts["ticks"] += int(counted)
            self._counts["timer changes"] += len(line.results)
        for place, result in enumerate(line.results):
            if line.kind != "tick":
                self._counts[result.outcome.value] += 1
            if places and result.order_id is not None:
                place = places.get(result.order_id, place)
            self._note(line.line, result, place)

    def _note(self, line: int, result: Result, place: int = 0) -> None:
        if result.outcome is InputOutcome.REJECTED:
            self._rejected.append((line, result.order_id, result.error_type, result.reason))
        if result.order_id is not None:
            self._orders.add(result.order_id, line, place)
        for resumed in result.resumed:
            # An earlier input that waited for this one: it is counted once, as
            # what became of it in the end (rejections listed under this line).
            self._counts[InputOutcome.WAITING.value] -= 1
            self._counts[resumed.outcome.value] += 1
            self._note(line, resumed, place)

    def outcomes(self) -> Counter[str]:
        return Counter({name: count for name, count in self._counts.items() if count})

    def rejected(self) -> list[tuple[int, str | None, str, str]]:
        """(line, order id, error type, reason) of every rejected input and bad line."""
        return list(self._rejected)

    def part(self, path: str) -> ReplayPart:
        """What this worker's report holds, to be merged by another process (`merged`);
        the orders it touched are written to the SQLite file `path`."""
        copy = _Touched(path)
        copy._db.executemany(
            "INSERT INTO touched (order_id, line, sub) VALUES (?, ?, ?)",
            self._orders._db.execute("SELECT order_id, line, sub FROM touched ORDER BY seq"),
        )
        copy.save()
        return ReplayPart(self.inputs, dict(self._counts), list(self._rejected), path)

    @classmethod
    def merged(cls, parts: Sequence[ReplayPart]) -> ReplayReport:
        """One report of the workers' parts: the same counts, rejections (by line) and
        orders (in the order their lines first touched them) as one process's replay."""
        report = cls()
        for part in parts:
            report.inputs += part.inputs
            report._counts.update(part.counts)
            report._rejected.extend(part.rejected)
        # By line, stable: within a line in its worker's order (only a Get Order Detail
        # response's rejections, from several workers, may come in another order).
        report._rejected.sort(key=lambda rejected: rejected[0])
        report._orders.merge([part.touched for part in parts])
        return report


@frozen
class ReplayPart:
    """One worker's share of a replay's report, as it crosses to the merging process."""

    inputs: int
    counts: dict[str, int]
    rejected: list[tuple[int, str | None, str, str]]
    #: a SQLite file of the orders the worker touched, with the line that first did
    touched: str


#: A JSON escape of a UTF-16 surrogate: a line holding one may hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise BadLine(f"{what} must be an ISO-8601 time with an offset, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadLine(f"{what} is not an ISO-8601 time: {value!r}") from None
    if moment.utcoffset() is None:
        raise BadLine(f"{what} needs a UTC offset (like +00:00 or Z): {value!r}")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise BadLine(f"{what} lies outside the times a UTC clock can show: {value!r}") from None
    return moment


def _upper(value: Any) -> Any:
    """Initiators and origins in any case, as `allowed --initiator seller` takes them."""
    return value.upper() if isinstance(value, str) else value


def _command(raw: Mapping[str, Any]) -> Command:
    missing = [key for key in ("command", "order_id", "initiator", "at") if raw.get(key) is None]
    if missing:
        raise BadLine(f"a command line needs {', '.join(missing)}")
    try:
        initiator = Initiator(_upper(raw["initiator"]))
    except ValueError:
        raise BadLine(
            f"unknown initiator {raw['initiator']!r}; expected one of {', '.join(Initiator)}"
            " (in any case)"
        ) from None
    origin = None
    if raw.get("origin") is not None:
        try:
            origin = Origin(_upper(raw["origin"]))
        except ValueError:
            raise BadLine(
                f"unknown origin {raw['origin']!r}; expected one of {', '.join(Origin)}"
            ) from None
    params = {key: value for key, value in raw.items() if key not in _COMMAND_KEYS}
    if isinstance(params.get("line_item_ids"), list):
        params["line_item_ids"] = tuple(params["line_item_ids"])
    return Command(
        order_id=str(raw["order_id"]),
        event=str(raw["command"]),
        initiator=initiator,
        at=parse_time(raw["at"], "at"),
        origin=origin,
        params=params,
    )


def _feed(service: OrderService, text: str) -> tuple[str, tuple[Result, ...]]:
    return _feed_decoded(service, text, _decode(text))


def _decode(text: str) -> Any:
    """The line's JSON value; `BadLine` when it is not UTF-8 JSON text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadLine("the line is not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise BadLine(f"not JSON: {error}") from None
    except RecursionError:
        raise BadLine("JSON nested too deeply to read") from None
    if _SURROGATE_ESCAPE.search(text):
        try:  # only a line that escapes a surrogate pays for this check
            json.dumps(raw, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadLine("a string holds a lone surrogate (\\ud800-\\udfff), not text") from None
    return raw


def _feed_decoded(
    service: OrderService, text: str, raw: Any, shard: Shard | None = None
) -> tuple[str, tuple[Result, ...]]:
    """Feed one decoded line; with `shard`, only its orders of a Get Order Detail response."""
    if not isinstance(raw, dict):
        raise BadLine(f"a line must be a JSON object, got {type(raw).__name__}")
    if "order_detail" in raw:
        detail = raw["order_detail"]
        if not isinstance(detail, dict):
            raise BadLine("order_detail must be an object (one Get Order Detail order)")
        extensions = raw.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise BadLine("extensions must be an object")
        if _is_response(detail):
            if extensions is not None:
                raise BadLine(
                    "extensions belong to one order: put them beside a single order_detail,"
                    " not beside a whole response"
                )
            return "order_detail", _seed_each(service, detail, raw.get("shop_id"), shard)
        result = service.seed(detail, shop_id=raw.get("shop_id"), extensions=extensions)
        return "order_detail", (result,)
    if _is_response(raw):
        return "order_detail", _seed_each(service, raw, None, shard)
    if "command" in raw:
        command = _command(raw)
        # Spelled as the enums spell them, so `seller` and `SELLER` lines deduplicate.
        document = {**raw, "initiator": command.initiator.value}
        if command.origin is not None:
            document["origin"] = command.origin.value
        return "command", (service.command(command, raw=document),)
    if "tick" in raw:
        return "tick", tuple(service.tick(parse_time(raw["tick"], "tick")))
    if raw.keys() >= _WEBHOOK_KEYS:
        # Decoded once: the identity and the decision read this same object.
        return "webhook", (service._webhook(text.encode(), raw),)
    raise BadLine(
        "not an input: expected a TikTok webhook envelope (type, shop_id, timestamp, data),"
        " order_detail, a Get Order Detail response (code, data.orders), command or tick"
    )


def _is_response(raw: Mapping[str, Any]) -> bool:
    """TikTok's response envelope (`code`, `message`, `request_id`, `data`), not one order."""
    return "code" in raw and "data" in raw and "id" not in raw


def _seed_each(
    service: OrderService, response: Mapping[str, Any], shop_id: Any, shard: Shard | None = None
) -> tuple[Result, ...]:
    """Seed every order of a Get Order Detail response; the whole line is bad if it is."""
    code = response["code"]
    if code != 0 or isinstance(code, bool):
        message = response.get("message")
        raise BadLine(
            f"a Get Order Detail response with code {code!r} ({message!r}) holds no orders;"
            " only code 0 is success"
        )
    data = response["data"]
    orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(orders, list):
        raise BadLine("a Get Order Detail response needs data.orders, a list of order objects")
    for index, order in enumerate(orders):
        if not isinstance(order, dict):
            raise BadLine(
                f"data.orders[{index}] must be an order object, got {type(order).__name__}"
            )
    return tuple(
        service.seed(order, shop_id=shop_id)
        for order in orders
        if shard is None or shard.owns(_id_of(order.get("id")))
    )


def _id_of(value: Any) -> str | None:
    """An order id as the service reads it from an order detail or a webhook's data."""
    return str(value) if isinstance(value, str | int) else None


class _Shared:
    """A line each worker handles its share of: a tick (each ticks its own orders)
    or a Get Order Detail response (each seeds its own orders)."""


_SHARED = _Shared()


def _owner(raw: Any) -> str | _Shared | None:
    """The order a decoded line is about, as `_feed_decoded` reads it; `_SHARED` for a
    line every worker handles its share of; `None` for none (shard 0 handles it)."""
    if not isinstance(raw, dict):
        return None
    if "order_detail" in raw:
        detail = raw["order_detail"]
        if not isinstance(detail, dict):
            return None
        return _SHARED if _is_response(detail) else _id_of(detail.get("id"))
    if _is_response(raw):
        return _SHARED
    if "command" in raw:
        order_id = raw.get("order_id")
        return None if order_id is None else str(order_id)
    if "tick" in raw:
        return _SHARED
    if raw.keys() >= _WEBHOOK_KEYS:
        data = raw.get("data")
        return _id_of(data.get("order_id")) if isinstance(data, dict) else None
    return None


def replay(
    service: OrderService,
    lines: Iterable[str],
    *,
    progress: Callable[[int], None] | None = None,
    on_bad_line: Callable[[LineResult], None] | None = None,
    batch_size: int = 1,
) -> ReplayReport:
    """Feed every non-blank line to `service`; bad lines are reported, not fatal.

    With `batch_size` > 1 the store commits once per batch of lines
    (`Store.batch`) instead of once per input: much faster, and a crash loses
    at most the batch in progress, which replaying the file again redoes
    (inputs already kept are recognised as duplicates). Lines are read as
    they come, so memory does not grow with the file.

    With `service.shard` (one of N workers reading the same lines into one
    store) only the lines about the shard's orders are fed, so each order's
    lines apply in file order in one worker; a tick ticks the shard's orders
    and a Get Order Detail response seeds them. A bad line is reported by the
    worker of the order it names, or by shard 0 when it names none.
    """
    if service.shard is not None and service.shard.count > 1:
        return _replay_shard(
            service, service.shard, lines, progress, on_bad_line, max(batch_size, 1)
        )
    report = ReplayReport()
    numbered = enumerate(lines, start=1)
    while chunk := list(islice(numbered, max(batch_size, 1))):
        with service.store.batch() if batch_size > 1 else nullcontext():
            for number, text in chunk:
                if progress is not None:
                    progress(number)
                text = text.strip()
                if not text:
                    continue
                try:
                    kind, results = _feed(service, text)
                except Exception as error:
                    # One bad line never stops the rest of the file: a line nothing
                    # foresaw (deep nesting, an impossible value) is reported by its
                    # error's type. A store out of reach stops the replay.
                    if is_unavailable(error):
                        raise
                    reason = str(error)[:500] or type(error).__name__
                    bad = LineResult(number, "bad", (), type(error).__name__, reason)
                    report.add(bad)
                    if on_bad_line is not None:
                        on_bad_line(bad)
                    continue
                report.add(LineResult(number, kind, results))
    return report


def _replay_shard(
    service: OrderService,
    shard: Shard,
    lines: Iterable[str],
    progress: Callable[[int], None] | None,
    on_bad_line: Callable[[LineResult], None] | None,
    batch_size: int,
) -> ReplayReport:
    """`replay` of the lines of one shard's orders (see `replay`).

    Every worker decodes every line, to read its order id; only the worker
    of the order decides it. Decoding is the part that does not shrink with
    more workers (docs/performance.md).
    """
    report = ReplayReport()

    def feed(number: int, text: str) -> bool:
        """Feed the line if it is the shard's; whether it was (a batch counts those)."""
        owner: str | _Shared | None = None
        try:
            raw = _decode(text)
            owner = _owner(raw)
            if not isinstance(owner, _Shared) and not shard.owns(owner):
                return False
            kind, results = _feed_decoded(service, text, raw, shard)
        except Exception as error:
            if is_unavailable(error):
                raise
            if isinstance(owner, _Shared):
                # A shared line's own faults (a bad tick time, a response that is
                # no success) every worker finds: shard 0 reports them, once.
                if shard.index and isinstance(error, BadLine):
                    return True
            elif not shard.owns(owner):
                return False  # undecodable: every worker finds it, shard 0 reports it
            reason = str(error)[:500] or type(error).__name__
            bad = LineResult(number, "bad", (), type(error).__name__, reason)
            report.add(bad)
            if on_bad_line is not None:
                on_bad_line(bad)
            return True
        shared = isinstance(owner, _Shared)
        report.add(
            LineResult(number, kind, results),
            counted=not shared or shard.index == 0,
            places=_places(raw) if shared and kind == "order_detail" else None,
        )
        return True

    numbered = enumerate(lines, start=1)
    more = True
    while more:
        more = False
        fed = 0  # the shard's own lines: a batch holds as many as one worker's would
        with service.store.batch() if batch_size > 1 else nullcontext():
            for number, text in numbered:
                if progress is not None:
                    progress(number)
                text = text.strip()
                if text and feed(number, text):
                    fed += 1
                    if fed >= batch_size:
                        more = True
                        break
    return report


def _places(raw: Mapping[str, Any]) -> dict[str, int]:
    """Each order's place in the Get Order Detail response of a decoded line."""
    response = raw.get("order_detail", raw)
    orders = response["data"]["orders"]
    places: dict[str, int] = {}
    for place, order in enumerate(orders):
        order_id = _id_of(order.get("id"))
        if order_id is not None:
            places.setdefault(order_id, place)
    return places
