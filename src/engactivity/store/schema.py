"""The store's own tables and statements, in the SQL both engines take.

Statements are written with ``?`` placeholders; the dialect turns them into its own
(``Dialect.sql``). Every table is keyed by account first, so one account's rows sit
together and the schema could be distributed by account. The methods' tables are
declared by the methods (``tables.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from engactivity.core.events import Event
from engactivity.core.timeframe import BUCKET_MS
from engactivity.store.tables import Table

SCHEMA_VERSION = 1

BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account (
    account_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS seen_event (
    account_id TEXT   NOT NULL,
    event_id   TEXT   {id_collation}NOT NULL,
    bucket     BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_id)
) WITHOUT ROWID;
"""
"""``seen_event``: the ids of counted events per account, with their bucket (for
retention), so that a redelivery is recognized."""


def schema(tables: Sequence[Table], bytes_type: str, id_collation: str = "") -> str:
    """The DDL of every table; ``id_collation``: how event ids compare, when not as the
    database's default (a ``COLLATE`` clause and a space)."""
    base = BASE_SCHEMA.format(id_collation=id_collation)
    return base + "".join(table.ddl(bytes_type) for table in tables)


PARAMS_PER_STATEMENT = 30_000
"""Bound parameters per multi-row statement, under the limits of SQLite (32,766) and
PostgreSQL (65,535). Statements are few and large: each one is a round trip, and on
SQLite a moment when the writer thread gives up the GIL and must win it back."""

ID_ROWS_PER_STATEMENT = PARAMS_PER_STATEMENT // 3

UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
ACCOUNTS = "SELECT account_id FROM account"
SCHEMA_VERSION_QUERY = "SELECT value FROM meta WHERE key = 'schema_version'"


@functools.lru_cache(maxsize=64)
def insert_new_ids(rows: int) -> str:
    """Insert event ids, skipping those already stored (or earlier in the statement);
    the row count tells how many were new."""
    values = ",".join(["(?, ?, ?)"] * rows)
    return (
        f"INSERT INTO seen_event (account_id, event_id, bucket) VALUES {values} "
        "ON CONFLICT DO NOTHING"
    )


def id_inserts(account_id: str, event_ids: list[str], events: list[Event]) -> list[list[object]]:
    """The parameters of the insert_new_ids statements recording ``events`` (with their
    ids as the database holds them), ID_ROWS_PER_STATEMENT rows each."""
    statements: list[list[object]] = []
    for start in range(0, len(events), ID_ROWS_PER_STATEMENT):
        flat: list[object] = []
        for event_id, event in zip(
            event_ids[start : start + ID_ROWS_PER_STATEMENT],
            events[start : start + ID_ROWS_PER_STATEMENT],
            strict=True,
        ):
            flat += (account_id, event_id, event.time // BUCKET_MS)
        statements.append(flat)
    return statements
