"""What is SQLite's own in the store: WAL, the sweep of event ids, the tables, noticing
another process's writes, readers after close."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engactivity.clock import fixed_clock
from engactivity.methods import tables_of
from engactivity.store import IngestResult, StoreUnavailable, id_sweep, open_store
from engactivity.store import sqlite as sqlite_module
from engactivity.store.engine import Engine
from engactivity.store.jobs import CallJob
from tests.conftest import MIN, NOW_MS
from tests.factories import connected, counters
from tests.store.dbutil import memory_rows, table_rows, totals

DAY = 24 * 60 * MIN


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(url: str) -> Iterator[Engine]:
    opened = open_store(url, fixed_clock(NOW_MS), tables_of())
    assert isinstance(opened, Engine)
    yield opened
    opened.close()


def test_open_store_makes_the_file_and_its_folder(tmp_path: Path) -> None:
    opened = open_store(f"sqlite:///{tmp_path / 'x' / 'y.db'}", fixed_clock(NOW_MS), tables_of())
    try:
        assert (tmp_path / "x" / "y.db").exists()
        opened.ping()
    finally:
        opened.close()


def test_wal_mode_is_on(store: Engine, url: str) -> None:
    store.submit("a", [connected("1")], NOW_MS).result(timeout=30)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        conn.close()


def test_only_rows_and_ids_are_stored(store: Engine, url: str) -> None:
    store.submit("acct", [connected("a")], NOW_MS).result(timeout=30)
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        seen_columns = [row[1] for row in conn.execute("PRAGMA table_info(seen_event)")]
        indexes = list(
            conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql NOT NULL")
        )
    finally:
        conn.close()
    assert tables == {"meta", "account", "seen_event", *(table.name for table in tables_of())}
    assert seen_columns == ["account_id", "event_id", "bucket"]
    assert indexes == []  # event ids are swept, not indexed by bucket


def test_a_sweep_under_way_when_the_cutoff_moves_misses_no_id(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ids are swept a slice per step; a sweep begun under one cutoff and finished under
    # a later one must still remove every id the later cutoff expires.
    monkeypatch.setattr(id_sweep, "SWEEP_IDS", 10)
    store = open_store(url, fixed_clock(NOW_MS), tables_of())
    assert isinstance(store, Engine)
    try:
        events = [connected(f"e{i:03}", NOW_MS - i * 5 * MIN) for i in range(288)]
        store.submit("acct", events, NOW_MS).result(timeout=30)
        step = CallJob(lambda conn: store._retention.step(conn, NOW_MS, store._call_completer))
        store._jobs.put(step)
        step.future.result(timeout=30)
        dialect = store._dialect
        assert isinstance(dialect, sqlite_module.SQLiteDialect)
        assert "acct" in dialect.id_sweep.under_way  # under way: 288 ids, 10 per step
        # Per expired event: its id, and its rows of every bucket table.
        per_event = 1 + sum(table.bucketed for table in tables_of())
        assert store.purge(NOW_MS + DAY) == per_event * (288 - 3)
        rows = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            (ids,) = rows.execute("SELECT COUNT(*) FROM seen_event").fetchone()
        finally:
            rows.close()
        assert ids == 3
    finally:
        store.close()


def test_another_process_writing_the_file_is_noticed(store: Engine, url: str) -> None:
    # engactivity import --store beside a running server: a second store on the file.
    first = [connected(f"a{i}") for i in range(5)]
    store.submit("acct", first, NOW_MS).result(timeout=30)
    assert memory_rows(store, "acct") == table_rows(url, "acct")  # in memory now
    other = open_store(url, fixed_clock(NOW_MS), tables_of())
    try:
        more = [connected(f"b{i}") for i in range(7)]
        assert other.submit("acct", more, NOW_MS).result(timeout=30) == IngestResult(7, 0, 0)
    finally:
        other.close()
    expected = table_rows(url, "acct")
    assert totals(url, "acct") == counters(first + more)
    waited = threading.Event()
    for _ in range(100):  # noticed within a second or so
        if memory_rows(store, "acct") == expected:
            break
        waited.wait(0.05)
    assert memory_rows(store, "acct") == expected
    assert store.memory().loads == 2  # dropped, and read again


def test_reads_after_close_are_unavailable(store: Engine) -> None:
    store.ping()  # this thread now has a reader connection
    store.close()
    with pytest.raises(StoreUnavailable):
        store.table_stats()
