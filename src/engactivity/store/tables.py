"""Bucket tables: the per-bucket sums a method keeps, declared by the method, kept by the store.

A method declares what state its events fold into as a :class:`BucketTable`: a
name, key columns and value columns. For every account and 5-minute bucket, a row
holds the sums of its values under its keys; rows only ever grow by addition, so a
batch's contribution is a set of row deltas that the store adds in SQL (an upsert)
and in memory alike, and that can be taken off again when some of the batch's
events turn out to be duplicates.

The store derives every statement on a table from its declaration; it never needs
to know what the columns mean.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from engactivity.core.events import Event

RowKey = tuple[int, ...]
"""(bucket, key columns...)."""
Deltas = dict[RowKey, list[int]]
"""Row deltas of one table: values to add, by row key. Rows are mutable lists: folds
run once per event."""
Fold = Callable[[Sequence[Event], Deltas], None]


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str = "BIGINT"


@dataclass(frozen=True)
class BucketTable:
    """Per-bucket sums of one method, for every account."""

    name: str
    """The SQL table's name."""
    keys: tuple[Column, ...]
    """What a row is kept per, beside the account and the bucket."""
    values: tuple[str, ...]
    """The summed columns."""
    fold: Fold = field(compare=False)
    """Adds the contribution of each event it takes to its row (in ``Deltas``).

    Every event it takes must add a non-zero value to its row, so that a row falls
    back to all zeros only when all of its events were duplicates (it is then dropped).
    """

    @property
    def width(self) -> int:
        return len(self.values)

    @property
    def key_names(self) -> list[str]:
        return ["account_id", "bucket", *(c.name for c in self.keys)]

    def ddl(self) -> str:
        """CREATE TABLE in the SQL both engines take (the dialect adapts the tail)."""
        columns = [
            "account_id TEXT NOT NULL",
            "bucket BIGINT NOT NULL",
            *(f"{c.name} {c.sql_type} NOT NULL" for c in self.keys),
            *(f"{name} BIGINT NOT NULL" for name in self.values),
        ]
        body = ",\n    ".join([*columns, f"PRIMARY KEY ({', '.join(self.key_names)})"])
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n) WITHOUT ROWID;\n"

    @functools.cache  # noqa: B019  (tables are few and live as long as the process)
    def upsert(self, rows: int) -> str:
        """Add values to ``rows`` rows, creating those that do not exist yet."""
        columns = [*self.key_names, *self.values]
        one = "(" + ", ".join(["?"] * len(columns)) + ")"
        sums = ",\n    ".join(f"{v} = {self.name}.{v} + excluded.{v}" for v in self.values)
        return (
            f"INSERT INTO {self.name} ({', '.join(columns)})\nVALUES "
            + ",".join([one] * rows)
            + f"\nON CONFLICT ({', '.join(self.key_names)}) DO UPDATE SET\n    {sums}"
        )

    def upserts(
        self, account_id: str, items: list[tuple[RowKey, list[int]]], max_params: int
    ) -> Iterator[tuple[str, list[object]]]:
        """The upsert statements adding ``items`` to the account's rows, with parameters."""
        per_row = 1 + len(self.keys) + 1 + self.width
        step = max(1, max_params // per_row)
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            flat: list[object] = []
            for key, values in chunk:
                flat.append(account_id)
                flat.extend(key)
                flat.extend(values)
            yield self.upsert(len(chunk)), flat

    def select(self, where: str = "") -> str:
        """Rows as (account_id, bucket, keys..., values...), optionally filtered."""
        columns = ", ".join([*self.key_names, *self.values])
        return f"SELECT {columns} FROM {self.name}" + (f" WHERE {where}" if where else "")


def fold_all(tables: Sequence[BucketTable], events: Sequence[Event]) -> list[Deltas]:
    """The row deltas of ``events`` in each table."""
    out: list[Deltas] = []
    for table in tables:
        deltas: Deltas = {}
        table.fold(events, deltas)
        out.append(deltas)
    return out


def add_deltas(deltas: Deltas, into: Deltas) -> None:
    """Add ``deltas`` to ``into``; ``deltas`` is left as it was (rows are copied)."""
    for key, values in deltas.items():
        row = into.get(key)
        if row is None:
            into[key] = list(values)
        else:
            for i, value in enumerate(values):
                row[i] += value


def subtract(prepared: Deltas, taken: Deltas) -> Deltas:
    """``prepared`` less ``taken`` (a part of it), without changing either; rows left at
    zero are dropped."""
    out = dict(prepared)  # its rows are shared with prepared: replaced, never changed
    for key, minus in taken.items():
        row = [have - less for have, less in zip(prepared[key], minus, strict=True)]
        if any(row):
            out[key] = row
        else:
            del out[key]
    return out
