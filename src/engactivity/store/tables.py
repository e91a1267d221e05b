"""The state methods keep, declared by the methods, kept by the store.

A method declares what its events fold into as tables of two kinds:

- a :class:`BucketTable`: for every account and 5-minute bucket, rows of values under
  their keys (for engagement activity, five sums per skill and agent). Each value
  merges by ``sum`` (most), ``min`` or ``max``, so a batch's contribution is a set of
  row deltas that the store merges in SQL (an upsert) and in memory alike.
- a :class:`LatestTable`: for every account and key, the newest sample only, by
  ``(time, eventId)`` (for queue state, the newest ``queueState`` of each skill).
- a :class:`TimelineTable`: for every account and key, every event as it came, ordered
  by ``(time, eventId)``: a step function (for agent activity, each agent's states).

The store derives every statement on a table from its declaration, and keeps it in
memory (``memory.py``); it never needs to know what the columns mean.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from engactivity.core.events import Event
from engactivity.core.timeframe import BUCKET_MS

RowKey = tuple[Any, ...]
"""A row's key without the account: (bucket, key columns...) in a bucket table, (key
columns...) in a latest table."""
Deltas = dict[RowKey, list[Any]]
"""What a batch adds to one table, by row key. Rows are mutable lists: folds run
once per event."""
Fold = Callable[[Sequence[Event], Deltas], None]
Statement = tuple[str, list[object]]
Merge = Literal["sum", "min", "max"]

EMPTY: dict[Merge, int] = {"sum": 0, "min": 2**62, "max": -(2**62)}
"""The value of a column no event set yet: merging it changes nothing."""


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str = "BIGINT"


@dataclass(frozen=True)
class Value:
    name: str
    merge: Merge = "sum"


def _chunks(items: list[Any], per_row: int, max_params: int) -> Iterator[list[Any]]:
    step = max(1, max_params // per_row)
    for start in range(0, len(items), step):
        yield items[start : start + step]


def _timed_columns(
    keys: tuple[Column, ...], values: list[tuple[str, str]], bytes_type: str
) -> list[tuple[str, str]]:
    """The columns of a table whose rows are stamped by ``(time, event key)``."""
    return [
        ("account_id", "TEXT"),
        *((c.name, c.sql_type) for c in keys),
        ("time", "BIGINT"),
        ("event_key", bytes_type),
        *values,
    ]


def _create(name: str, columns: list[tuple[str, str]], key_names: list[str]) -> str:
    """CREATE TABLE in the SQL both engines take (the dialect adapts the tail)."""
    defined = [f"{column} {sql_type} NOT NULL" for column, sql_type in columns]
    body = ",\n    ".join([*defined, f"PRIMARY KEY ({', '.join(key_names)})"])
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    {body}\n) WITHOUT ROWID;\n"


def _select(name: str, columns: list[str], where: str) -> str:
    return f"SELECT {', '.join(columns)} FROM {name}" + (f" WHERE {where}" if where else "")


def _statements(
    upsert: Callable[[int], str],
    account_id: str,
    items: list[tuple[RowKey, list[Any]]],
    per_row: int,
    max_params: int,
) -> Iterator[Statement]:
    """``upsert`` statements for ``items``, as many rows each as ``max_params`` allows."""
    for chunk in _chunks(items, per_row, max_params):
        flat: list[object] = []
        for key, values in chunk:
            flat.append(account_id)
            flat.extend(key)
            flat.extend(values)
        yield upsert(len(chunk)), flat


@dataclass(frozen=True)
class BucketTable:
    """Per-bucket values of one method, for every account."""

    name: str
    """The SQL table's name."""
    keys: tuple[Column, ...]
    """What a row is kept per, beside the account and the bucket."""
    values: tuple[Value, ...]
    fold: Fold = field(compare=False)
    """Adds the contribution of each event it takes to its row (in ``Deltas``), starting
    a row from ``empty_row``.

    When every value is a sum, every event it takes must add a non-zero value to its
    row, so that a row falls back to all zeros only when all of its events were
    duplicates (it is then dropped).
    """

    bucketed = True

    @property
    def width(self) -> int:
        return len(self.values)

    @functools.cached_property
    def merges(self) -> tuple[Merge, ...]:
        return tuple(v.merge for v in self.values)

    @property
    def subtractable(self) -> bool:
        """Whether duplicates can be taken off a batch's deltas (else it is folded again)."""
        return all(m == "sum" for m in self.merges)

    def empty_row(self) -> list[int]:
        return [EMPTY[m] for m in self.merges]

    @property
    def key_names(self) -> list[str]:
        return ["account_id", "bucket", *(c.name for c in self.keys)]

    def columns(self, bytes_type: str) -> list[tuple[str, str]]:
        """(name, SQL type) of every column, in the order of a row's parameters."""
        return [
            ("account_id", "TEXT"),
            ("bucket", "BIGINT"),
            *((c.name, c.sql_type) for c in self.keys),
            *((v.name, "BIGINT") for v in self.values),
        ]

    def ddl(self, bytes_type: str) -> str:
        """CREATE TABLE in the SQL both engines take (the dialect adapts the tail)."""
        return _create(self.name, self.columns(bytes_type), self.key_names)

    @functools.cached_property
    def on_conflict(self) -> str:
        """What an upsert does to a row that exists: merge the values into it."""
        merged = ",\n    ".join(_merge_sql(self.name, v) for v in self.values)
        return f"ON CONFLICT ({', '.join(self.key_names)}) DO UPDATE SET\n    {merged}"

    @functools.cache  # noqa: B019  (tables are few and live as long as the process)
    def upsert(self, rows: int) -> str:
        """Merge values into ``rows`` rows, creating those that do not exist yet."""
        return _values_upsert(self.name, self.columns(""), rows, self.on_conflict)

    def merge(self, row: list[Any], into: list[Any]) -> None:
        """Merge ``row``'s values into ``into``, as the upsert merges them."""
        for i, (merge, value) in enumerate(zip(self.merges, row, strict=True)):
            if merge == "sum":
                into[i] += value
            elif (value < into[i]) if merge == "min" else (value > into[i]):
                into[i] = value

    def upserts(
        self, account_id: str, items: list[tuple[RowKey, list[Any]]], max_params: int
    ) -> Iterator[Statement]:
        """The upsert statements merging ``items`` into the account's rows, with parameters."""
        per_row = 2 + len(self.keys) + self.width
        return _statements(self.upsert, account_id, items, per_row, max_params)

    def select(self, where: str = "") -> str:
        """Rows as (account_id, bucket, keys..., values...), optionally filtered."""
        return _select(self.name, [*self.key_names, *(v.name for v in self.values)], where)

    def split(self, row: Sequence[Any]) -> tuple[RowKey, list[Any]]:
        """A row of ``select`` (the account left out) as its key and values."""
        at = 1 + len(self.keys)
        return tuple(row[:at]), list(row[at:])

    def retained(self, cutoff: int) -> tuple[str, list[object]]:
        """The condition (and its parameter) of rows retention keeps at ``cutoff``."""
        return "bucket >= ?", [cutoff]

    def purge(self, account_id: str, cutoff: int) -> Statement:
        """Delete the account's oldest bucket before ``cutoff`` (the key starts with it)."""
        return (
            f"DELETE FROM {self.name} WHERE account_id = ? AND bucket = "
            f"(SELECT MIN(bucket) FROM {self.name} WHERE account_id = ? AND bucket < ?)",
            [account_id, account_id, cutoff],
        )


def _values_upsert(name: str, columns: list[tuple[str, str]], rows: int, tail: str) -> str:
    one = "(" + ", ".join(["?"] * len(columns)) + ")"
    names = ", ".join(name for name, _ in columns)
    return f"INSERT INTO {name} ({names})\nVALUES " + ",".join([one] * rows) + f"\n{tail}"


def _merge_sql(table: str, value: Value) -> str:
    v = value.name
    if value.merge == "sum":
        return f"{v} = {table}.{v} + excluded.{v}"
    wins = "<" if value.merge == "min" else ">"
    return f"{v} = CASE WHEN excluded.{v} {wins} {table}.{v} THEN excluded.{v} ELSE {table}.{v} END"


@dataclass(frozen=True)
class LatestTable:
    """The newest sample of each key, for every account: by ``(time, eventId)``,
    ``eventId``s compared by Unicode code point (as their UTF-8 bytes)."""

    name: str
    keys: tuple[Column, ...]
    values: tuple[Value, ...]
    fold: Fold = field(compare=False)
    """Keeps, for each key, the newest sample among the events it takes, as a row
    ``[time, event key (event_key()), values...]``."""

    bucketed = False
    subtractable = False
    """A duplicate of a sample may carry other values: the first delivery wins."""

    @property
    def key_names(self) -> list[str]:
        return ["account_id", *(c.name for c in self.keys)]

    def columns(self, bytes_type: str) -> list[tuple[str, str]]:
        return _timed_columns(self.keys, [(v.name, "BIGINT") for v in self.values], bytes_type)

    def ddl(self, bytes_type: str) -> str:
        return _create(self.name, self.columns(bytes_type), self.key_names)

    @functools.cached_property
    def on_conflict(self) -> str:
        """Keep the newer of the stored sample and the given one."""
        names = ["time", "event_key", *(v.name for v in self.values)]
        t = self.name
        return (
            f"ON CONFLICT ({', '.join(self.key_names)}) DO UPDATE SET "
            + ", ".join(f"{n} = excluded.{n}" for n in names)
            + f"\nWHERE (excluded.time, excluded.event_key) > ({t}.time, {t}.event_key)"
        )

    @functools.cache  # noqa: B019
    def upsert(self, rows: int) -> str:
        """Keep the newer of the stored sample and the given one, for ``rows`` keys."""
        return _values_upsert(self.name, self.columns(""), rows, self.on_conflict)

    def merge(self, row: list[Any], into: list[Any]) -> None:
        if newer(row, into):
            into[:] = row

    def upserts(
        self, account_id: str, items: list[tuple[RowKey, list[Any]]], max_params: int
    ) -> Iterator[Statement]:
        per_row = 3 + len(self.keys) + len(self.values)
        return _statements(self.upsert, account_id, items, per_row, max_params)

    def select(self, where: str = "") -> str:
        names = ["time", "event_key", *(v.name for v in self.values)]
        return _select(self.name, [*self.key_names, *names], where)

    def split(self, row: Sequence[Any]) -> tuple[RowKey, list[Any]]:
        at = len(self.keys)
        sample = list(row[at:])
        sample[1] = bytes(sample[1])  # PostgreSQL answers a memoryview
        return tuple(row[:at]), sample

    def retained(self, cutoff: int) -> tuple[str, list[object]]:
        return "time >= ?", [cutoff * BUCKET_MS]

    def purge(self, account_id: str, cutoff: int) -> Statement:
        """Delete the account's samples older than the bucket ``cutoff``."""
        return (
            f"DELETE FROM {self.name} WHERE account_id = ? AND time < ?",
            [account_id, cutoff * BUCKET_MS],
        )


@dataclass(frozen=True)
class TimelineTable:
    """Every event of each key's timeline, for every account, by ``(time, eventId)``
    (``eventId``s compared by code point, as their UTF-8 bytes).

    Retention never cuts a timeline short: of each key's rows older than the cutoff it
    keeps the newest, the value in force at the cutoff.
    """

    name: str
    keys: tuple[Column, ...]
    values: tuple[Column, ...]
    """Integers, or TEXT (kept in memory as the index of the text, see ``memory.py``)."""
    fold: Fold = field(compare=False)
    """Adds a row ``(keys..., time, event key) -> [values...]`` for each event it takes."""
    weights: Callable[[Any], Any] | None = field(default=None, compare=False)
    """Optional: per row of values (an int64 array of them), what each millisecond of
    its step counts in each measured column (an int64 array, rows x columns). Memory
    then keeps these summed along each timeline (``memory.Timelines.sums``), so that
    any range is measured with two binary searches per key."""

    bucketed = False
    subtractable = False
    """Rows are events: a duplicate's row is simply not added (the batch is folded again)."""

    @property
    def key_names(self) -> list[str]:
        return ["account_id", *(c.name for c in self.keys), "time", "event_key"]

    def columns(self, bytes_type: str) -> list[tuple[str, str]]:
        return _timed_columns(self.keys, [(v.name, v.sql_type) for v in self.values], bytes_type)

    def ddl(self, bytes_type: str) -> str:
        return _create(self.name, self.columns(bytes_type), self.key_names)

    @functools.cached_property
    def on_conflict(self) -> str:
        """An event already there stays as it is."""
        return f"ON CONFLICT ({', '.join(self.key_names)}) DO NOTHING"

    @functools.cache  # noqa: B019
    def upsert(self, rows: int) -> str:
        """Add ``rows`` events (an event already there stays as it is)."""
        return _values_upsert(self.name, self.columns(""), rows, self.on_conflict)

    def merge(self, row: list[Any], into: list[Any]) -> None:
        pass  # the first delivery of an event stays, as in the table

    def upserts(
        self, account_id: str, items: list[tuple[RowKey, list[Any]]], max_params: int
    ) -> Iterator[Statement]:
        per_row = 3 + len(self.keys) + len(self.values)
        return _statements(self.upsert, account_id, items, per_row, max_params)

    def select(self, where: str = "") -> str:
        return _select(self.name, [*self.key_names, *(v.name for v in self.values)], where)

    def counts(self, where: str) -> str:
        """Each key's number of rows (its key columns, then the count): a load sizes the
        arrays once from these (``TimelineRows.reserve``)."""
        keys = ", ".join(c.name for c in self.keys)
        return f"SELECT {keys}, COUNT(*) FROM {self.name} WHERE {where} GROUP BY {keys}"

    def split(self, row: Sequence[Any]) -> tuple[RowKey, list[Any]]:
        at = len(self.keys) + 2
        key = (*row[: at - 1], bytes(row[at - 1]))  # PostgreSQL answers a memoryview
        return key, list(row[at:])

    def retained(self, cutoff: int) -> tuple[str, list[object]]:
        # Every stored row counts: retention deletes only rows no answer needs.
        return "1 = 1", []

    def purge(self, account_id: str, cutoff: int) -> Statement:
        """Delete the account's rows before the bucket ``cutoff`` that a newer row of the
        same key, also before it, replaces."""
        t = self.name
        same_key = " AND ".join(f"newer.{c.name} = {t}.{c.name}" for c in self.keys)
        return (
            f"DELETE FROM {t} WHERE account_id = ? AND time < ? AND EXISTS ("
            f"SELECT 1 FROM {t} AS newer WHERE newer.account_id = {t}.account_id"
            f" AND {same_key} AND newer.time < ?"
            f" AND (newer.time, newer.event_key) > ({t}.time, {t}.event_key))",
            [account_id, cutoff * BUCKET_MS, cutoff * BUCKET_MS],
        )


Table = BucketTable | LatestTable | TimelineTable


def event_key(event_id: str) -> bytes:
    """What orders event ids in a latest table: their UTF-8 bytes, in code point order."""
    return event_id.encode("utf-8", "surrogatepass")


def newer(row: list[Any], than: list[Any] | None) -> bool:
    """Whether the sample ``row`` ([time, event key, ...]) is newer than ``than``."""
    return than is None or (row[0], row[1]) > (than[0], than[1])


def fold_all(tables: Sequence[Table], events: Sequence[Event]) -> list[Deltas]:
    """The row deltas of ``events`` in each table."""
    out: list[Deltas] = []
    for table in tables:
        deltas: Deltas = {}
        table.fold(events, deltas)
        out.append(deltas)
    return out


def add_deltas(deltas: Deltas, into: Deltas) -> None:
    """Add ``deltas`` of sums to ``into``; ``deltas`` is left as it was (rows are copied)."""
    for key, values in deltas.items():
        row = into.get(key)
        if row is None:
            into[key] = list(values)
        else:
            for i, value in enumerate(values):
                row[i] += value


def merge_deltas(table: Table, deltas: Deltas, into: Deltas) -> None:
    """Merge ``deltas`` into ``into`` by the table's rules (``deltas`` is left as it was)."""
    for key, row in deltas.items():
        have = into.get(key)
        if have is None:
            into[key] = list(row)
        else:
            table.merge(row, have)


def subtract(prepared: Deltas, taken: Deltas) -> Deltas:
    """``prepared`` less ``taken`` (a part of it), without changing either; rows left at
    zero are dropped (sums only)."""
    out = dict(prepared)  # its rows are shared with prepared: replaced, never changed
    for key, minus in taken.items():
        row = [have - less for have, less in zip(prepared[key], minus, strict=True)]
        if any(row):
            out[key] = row
        else:
            del out[key]
    return out
