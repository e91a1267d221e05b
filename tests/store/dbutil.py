"""Looking into a store's database directly (either engine), and into its memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from engactivity.methods.engactivity import ROLLUP
from engactivity.store import Store

Row = tuple[Any, ...]


def query(url: str, sql: str, params: Sequence[object] = ()) -> list[Row]:
    """Rows of ``sql`` (``?`` placeholders) on the database ``url`` names."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def table_rows(url: str, account: str | None = None) -> dict[Row, Row]:
    """The rollup table: (account, bucket, skill, has agent, agent) -> five counters."""
    where = "" if account is None else " WHERE account_id = ?"
    rows = query(url, ROLLUP.select() + where, () if account is None else (account,))
    return {tuple(row[:5]): tuple(row[5:]) for row in rows}


def memory_rows(store: Store, account: str) -> dict[Row, Row]:
    """What the store's memory holds for the account, in the table's terms."""
    with store.snapshot(account) as state:
        rows = state.rows(ROLLUP)
        columns = [rows.column(i).tolist() for i in range(3)]
        out: dict[Row, Row] = {}
        for bucket, (keys, values) in rows.buckets.items():
            for key, counters in zip(keys.tolist(), values.tolist(), strict=True):
                out[(account, bucket, *(c[key] for c in columns))] = tuple(counters)
    return out


def totals(url: str, account: str, agents: frozenset[int] | None = None) -> tuple[int, ...]:
    """The account's five counters summed over the table (only ``agents``, if given)."""
    summed = [0, 0, 0, 0, 0]
    for (_, _, _, has_agent, agent), counters in table_rows(url, account).items():
        if agents is not None and not (has_agent and agent in agents):
            continue
        for i, value in enumerate(counters):
            summed[i] += value
    return tuple(summed)
