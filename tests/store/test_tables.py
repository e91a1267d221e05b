"""Bucket tables: the statements the store derives from a method's declaration."""

from __future__ import annotations

import sqlite3

from engactivity.methods.engactivity import ROLLUP
from engactivity.store.tables import add_deltas, subtract


def test_the_rollup_table_and_its_upsert_work_in_sqlite() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(ROLLUP.ddl("BLOB"))
    rows = [((7, 2, 1, 3), [1, 0, 5, 0, 1]), ((7, -1, 0, 0), [0, 1, 0, 2, 0])]
    for sql, params in ROLLUP.upserts("acct", rows, 30_000):
        conn.execute(sql, params)
    for sql, params in ROLLUP.upserts("acct", rows[:1], 30_000):
        conn.execute(sql, params)  # adds to the row it finds
    got = conn.execute(ROLLUP.select("account_id = ?") + " ORDER BY skill_id", ("acct",))
    assert got.fetchall() == [
        ("acct", 7, -1, 0, 0, 0, 1, 0, 2, 0),
        ("acct", 7, 2, 1, 3, 2, 0, 10, 0, 2),
    ]


def test_upserts_stay_under_the_parameter_limit() -> None:
    rows = [((b, 1, 1, 1), [1, 0, 0, 0, 0]) for b in range(7001)]
    statements = list(ROLLUP.upserts("acct", rows, 30_000))
    assert [len(params) for _, params in statements] == [30_000, 30_000, 10_010]


def test_deltas_add_and_subtract_without_changing_their_inputs() -> None:
    prepared = {(1, 2): [3, 4], (5, 6): [1, 1]}
    taken = {(5, 6): [1, 1], (1, 2): [1, 0]}
    left = subtract(prepared, taken)
    assert left == {(1, 2): [2, 4]}
    assert prepared == {(1, 2): [3, 4], (5, 6): [1, 1]}
    into = {(1, 2): [1, 1]}
    add_deltas(prepared, into)
    assert into == {(1, 2): [4, 5], (5, 6): [1, 1]}
    into[(5, 6)][0] = 9
    assert prepared[(5, 6)] == [1, 1]
