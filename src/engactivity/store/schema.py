"""Tables and statements of the store, in the SQL that SQLite and PostgreSQL share."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import cast

from engactivity.events import Event
from engactivity.query import Selection
from engactivity.store.base import RollupKey
from engactivity.timeframe import BUCKET_MS, Span

SCHEMA_VERSION = 1

# Every table is keyed by account first, so one account's rows sit together and the
# schema could be distributed by account. Rollups hold the five counters per
# 5-minute bucket, skill and agent; chats that never reached an agent have
# has_agent = 0 (agent_id is then 0), since any 64-bit value is a valid agent id.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account (
    account_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS rollup (
    account_id                    TEXT    NOT NULL,
    bucket                        BIGINT  NOT NULL,
    skill_id                      BIGINT  NOT NULL,
    has_agent                     INTEGER NOT NULL,
    agent_id                      BIGINT  NOT NULL,
    interactive_chats             BIGINT  NOT NULL,
    non_interactive_chats         BIGINT  NOT NULL,
    handling_time                 BIGINT  NOT NULL,
    non_interactive_handling_time BIGINT  NOT NULL,
    connected                     BIGINT  NOT NULL,
    PRIMARY KEY (account_id, bucket, skill_id, has_agent, agent_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_event (
    account_id TEXT   NOT NULL,
    event_id   TEXT   NOT NULL,
    bucket     BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_id)
) WITHOUT ROWID;
"""

SEEN_EVENT_BY_BUCKET = (
    "CREATE INDEX IF NOT EXISTS seen_event_by_bucket ON seen_event (account_id, bucket);"
)
"""PostgreSQL purges event ids bucket by bucket through this index. SQLite has none:
the index was as large as the table and doubled the pages written per event, so
SQLite sweeps the table for expired ids instead (``SQLiteStore._sweep_ids``)."""

PARAMS_PER_STATEMENT = 30_000
"""Bound parameters per multi-row statement, under the limits of SQLite (32,766) and
PostgreSQL (65,535). Statements are few and large: each one is a round trip, and on
SQLite a moment when the writer thread gives up the GIL and must win it back."""

ID_ROWS_PER_STATEMENT = PARAMS_PER_STATEMENT // 3
ROLLUP_ROWS_PER_STATEMENT = PARAMS_PER_STATEMENT // 10


@functools.lru_cache(maxsize=64)
def insert_new_ids(rows: int, returning: bool = True) -> str:
    """Insert event ids, skipping those already stored (or earlier in the statement).

    With ``returning``, the statement names the ids that were new, so deduplication
    and recording happen in one statement; without it, the row count tells how many.
    """
    values = ",".join(["(?, ?, ?)"] * rows)
    return (
        f"INSERT INTO seen_event (account_id, event_id, bucket) VALUES {values} "
        "ON CONFLICT DO NOTHING" + (" RETURNING event_id" if returning else "")
    )


def new_id_inserts(
    account_id: str,
    events: list[Event],
    stored_id: Callable[[str], str] | None = None,
    returning: bool = True,
) -> list[tuple[str, list[object]]]:
    """The insert_new_ids statements recording the ids of ``events``, with parameters.

    ``stored_id`` maps an event id to the form the database can hold, if it differs.
    """
    statements: list[tuple[str, list[object]]] = []
    for start in range(0, len(events), ID_ROWS_PER_STATEMENT):
        chunk = events[start : start + ID_ROWS_PER_STATEMENT]
        flat: list[object] = []
        for event in chunk:
            event_id = event.event_id if stored_id is None else stored_id(event.event_id)
            flat += (account_id, event_id, event.time_ms // BUCKET_MS)
        statements.append((insert_new_ids(len(chunk), returning), flat))
    return statements


def recorded_ids(statements: list[tuple[str, list[object]]]) -> list[str]:
    """The event ids that new_id_inserts statements record, in order."""
    # Each row binds (account_id, event_id, bucket): the ids are every third parameter.
    ids: list[str] = []
    for _, params in statements:
        ids += cast(list[str], params[1::3])
    return ids


@functools.lru_cache(maxsize=64)
def upsert_rollups(rows: int) -> str:
    """Add counters to rollup rows, creating the rows that do not exist yet."""
    values = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return _UPSERT_ROLLUP_HEAD + values + _UPSERT_ROLLUP_TAIL


def rollup_upserts(
    account_id: str, items: list[tuple[RollupKey, list[int]]]
) -> Iterator[tuple[str, list[object]]]:
    """The upsert_rollups statements adding ``items`` to the account's rows, with parameters."""
    for start in range(0, len(items), ROLLUP_ROWS_PER_STATEMENT):
        chunk = items[start : start + ROLLUP_ROWS_PER_STATEMENT]
        flat: list[object] = []
        for key, counters in chunk:
            flat.append(account_id)
            flat.extend(key)
            flat.extend(counters)
        yield upsert_rollups(len(chunk)), flat


_UPSERT_ROLLUP_HEAD = """
INSERT INTO rollup (account_id, bucket, skill_id, has_agent, agent_id,
                    interactive_chats, non_interactive_chats, handling_time,
                    non_interactive_handling_time, connected)
VALUES """

_UPSERT_ROLLUP_TAIL = """
ON CONFLICT (account_id, bucket, skill_id, has_agent, agent_id) DO UPDATE SET
    interactive_chats = rollup.interactive_chats + excluded.interactive_chats,
    non_interactive_chats = rollup.non_interactive_chats + excluded.non_interactive_chats,
    handling_time = rollup.handling_time + excluded.handling_time,
    non_interactive_handling_time =
        rollup.non_interactive_handling_time + excluded.non_interactive_handling_time,
    connected = rollup.connected + excluded.connected
"""

_SUMS = (
    "SUM(interactive_chats), SUM(non_interactive_chats), SUM(handling_time), "
    "SUM(non_interactive_handling_time), SUM(connected)"
)


def select_rollups(
    account_id: str, span: Span, skills: Selection, agents: Selection
) -> tuple[str, list[object]]:
    """The statement summing the rollups a request selects, grouped by interval index.

    Rows are (k, skill_id, has_agent, agent_id, five sums). Without filters only the
    interval totals are needed, so rows are grouped by interval alone.
    """
    params: list[object] = []
    if span.interval_ms is None:
        k_expr = "0"
    else:
        # The interval index of a bucket (Span.interval_of), computed in the database.
        k_expr = f"(? - bucket * {BUCKET_MS} - 1) / ?"
        params += [span.end_ms, span.interval_ms]
    where = ["account_id = ?", "bucket BETWEEN ? AND ?"]
    params += [account_id, span.first, span.last]
    if isinstance(skills, frozenset):
        where.append(f"skill_id IN ({','.join('?' * len(skills))})")
        params += sorted(skills)
    if agents is not None:
        where.append("has_agent = 1")
        if isinstance(agents, frozenset):
            where.append(f"agent_id IN ({','.join('?' * len(agents))})")
            params += sorted(agents)
    if skills is None and agents is None:
        columns, group = f"{k_expr} AS k, -1, 0, 0", "k"
    else:
        columns, group = (
            f"{k_expr} AS k, skill_id, has_agent, agent_id",
            "k, skill_id, has_agent, agent_id",
        )
    sql = f"SELECT {columns}, {_SUMS} FROM rollup WHERE {' AND '.join(where)} GROUP BY {group}"
    return sql, params
