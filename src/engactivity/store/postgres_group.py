"""PostgreSQL's statements for a whole group of batches: each one set-based.

Over the network every statement is a round trip, and a multi-row ``VALUES`` list is
a new text for psycopg to parse (in Python: its placeholders) and for PostgreSQL to
parse and plan, row count by row count. Rows passed as arrays (``unnest``) have one
text, but psycopg adapts them element by element in Python, which cost as much. Here
each column goes as one JSON array (orjson writes it in C), and PostgreSQL takes the
rows apart (``json_array_elements_text``, in C): a group of any size is one statement
per table, with a text that never changes (prepared once). Bytes go as hex strings.
The rows of one table never share a key (the caller merges them first): an upsert
may not touch a row twice.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg
import psycopg.errors

from engactivity.store.tables import Table

Conn = psycopg.Connection[Any]


def _from_arrays(types: Sequence[str]) -> str:
    return "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")"


CLAIM_ACCOUNTS = (
    "INSERT INTO account (account_id, version) SELECT unnest(%s::TEXT[]), 1 "
    "ON CONFLICT (account_id) DO UPDATE SET version = account.version + 1 "
    "RETURNING account_id, version"
)
"""Take the next version of each account, locking their rows in the arrays' order."""

RECORD_CHANGES = "INSERT INTO rollup_change (account_id, version, deltas) " + _from_arrays(
    ["TEXT", "BIGINT", "BYTEA"]
)


def _from_json(columns: Sequence[tuple[str, str]], keys: int) -> str:
    """Rows from one JSON array per column (bytes as hex strings), in the order of
    their first ``keys`` columns: writers of the same rows lock them in one order, so
    they wait for each other rather than deadlock."""
    arrays = ", ".join("json_array_elements_text(%s::json)" for _ in columns)
    cast = [
        f"decode(c{i}, 'hex')" if sql_type == "BYTEA" else f"c{i}::{sql_type}"
        for i, (_, sql_type) in enumerate(columns)
    ]
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    # Any one order will do: texts (and hex) in byte order, which sorts fastest.
    order = ", ".join(
        f'c{i} COLLATE "C"' if sql_type in ("TEXT", "BYTEA") else cast[i]
        for i, (_, sql_type) in enumerate(columns[:keys])
    )
    return f"SELECT {', '.join(cast)} FROM ROWS FROM ({arrays}) AS r({names}) ORDER BY {order}"


def _json_columns(rows: Iterable[Sequence[Any]]) -> list[str]:
    return [
        orjson.dumps([v.hex() for v in column] if isinstance(column[0], bytes) else column).decode()
        for column in zip(*rows, strict=True)
    ]


_IDS_FROM_JSON = "INSERT INTO seen_event (account_id, event_id, bucket) " + _from_json(
    [("account_id", "TEXT"), ("event_id", "TEXT"), ("bucket", "BIGINT")], 2
)

INSERT_NEW_IDS = _IDS_FROM_JSON
"""Record event ids all new: an id stored before fails the statement. A plain insert
costs PostgreSQL about two thirds of one that skips conflicts (which looks each id up
before inserting it, and inserts it speculatively)."""

INSERT_IDS = _IDS_FROM_JSON + " ON CONFLICT DO NOTHING RETURNING account_id, event_id"
"""Record event ids (each once), skipping those stored before: the new ones."""


def insert_ids(
    conn: Conn, accounts: list[str], ids: list[str], buckets: list[int], returning: bool
) -> int | set[tuple[str, str]]:
    """Record the ids: with ``returning`` which ones were new; without, that all were
    (their count), or 0 when one was stored before (the transaction is then aborted)."""
    params = [orjson.dumps(column).decode() for column in (accounts, ids, buckets)]
    if returning:
        cursor = conn.execute(INSERT_IDS, params)
        return {(account_id, event_id) for account_id, event_id in cursor.fetchall()}
    try:
        return int(conn.execute(INSERT_NEW_IDS, params).rowcount)
    except psycopg.errors.UniqueViolation:
        # Stored before, or by another process meanwhile (this statement waited for
        # its COMMIT): the caller rolls back and does the group again, carefully.
        return 0


@functools.cache
def _upsert(table: Table) -> str:
    columns = table.columns("BYTEA")
    names = ", ".join(name for name, _ in columns)
    rows = _from_json(columns, len(table.key_names))
    return f"INSERT INTO {table.name} ({names}) {rows}\n{table.on_conflict}"


def upsert(conn: Conn, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Merge ``rows`` (account, key..., values..., no key twice) into the table."""
    if rows:
        conn.execute(_upsert(table), _json_columns(rows))


def claim_accounts(conn: Conn, accounts: list[str]) -> dict[str, int]:
    if not accounts:
        return {}
    rows = conn.execute(CLAIM_ACCOUNTS, (accounts,)).fetchall()
    return {account_id: int(version) for account_id, version in rows}


def record_changes(conn: Conn, changes: list[tuple[str, int, bytes]]) -> None:
    if changes:
        conn.execute(RECORD_CHANGES, [list(column) for column in zip(*changes, strict=True)])
