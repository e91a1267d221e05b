"""The SQLite store used directly: group commit, rollups, dedup records, purge, lifecycle."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from engactivity.clock import fixed_clock
from engactivity.events import Event
from engactivity.metrics import ZERO, Counters, add, closed, connected
from engactivity.query import Selection
from engactivity.store import MIN_RETENTION_MS, IngestResult, StoreUnavailable, open_store
from engactivity.store import sqlite as sqlite_module
from engactivity.store.schema import select_rollups
from engactivity.store.sqlite import SQLiteStore
from engactivity.timeframe import BUCKET_MS, span_for
from tests.conftest import MIN, NOW_MS

DAY = 24 * 60 * MIN
NOW_BUCKET = NOW_MS // BUCKET_MS


def conn_to(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)


def ev(
    event_id: str,
    minutes_ago: float = 1,
    skill: int = -1,
    agent: int | None = 1,
    counters: Counters | None = None,
) -> Event:
    if counters is None:
        counters = connected() if agent is not None else closed(False, 0)
    return Event(event_id, NOW_MS - int(minutes_ago * MIN), skill, agent, counters)


def total(events: list[Event]) -> Counters:
    out = ZERO
    for event in events:
        out = add(out, event.counters)
    return out


def store_total(
    store: SQLiteStore,
    account: str,
    timeframe: int = 1440,
    skills: Selection = None,
    agents: Selection = None,
) -> Counters:
    out = ZERO
    for _k, _skill, _agent, counters in store.query(
        account, span_for(NOW_MS, timeframe), skills, agents
    ):
        out = add(out, counters)
    return out


def ingest(store: SQLiteStore, account: str, events: list[Event]) -> IngestResult:
    return store.submit(account, events, NOW_MS).result(timeout=30)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(db, fixed_clock(NOW_MS))
    yield opened
    opened.close()


def test_open_store_by_url(tmp_path: Path) -> None:
    opened = open_store(f"sqlite:///{tmp_path / 'x' / 'y.db'}", fixed_clock(NOW_MS))
    try:
        assert isinstance(opened, SQLiteStore)
        assert (tmp_path / "x" / "y.db").exists()
        opened.ping()
    finally:
        opened.close()


def test_retention_below_minimum_is_refused(db: Path) -> None:
    with pytest.raises(ValueError):
        SQLiteStore(db, fixed_clock(NOW_MS), MIN_RETENTION_MS - 1)


def test_wal_mode_is_on(store: SQLiteStore, db: Path) -> None:
    ingest(store, "a", [ev("1")])
    with conn_to(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    conn.close()


def test_submit_counts_and_dedups(store: SQLiteStore) -> None:
    a, b, c = ev("a"), ev("b", counters=closed(True, 30)), ev("c", agent=None)
    assert ingest(store, "acct", [a, b, a]) == IngestResult(2, 1, 0)
    assert ingest(store, "acct", [b, c]) == IngestResult(1, 1, 0)
    assert ingest(store, "acct", []) == IngestResult(0, 0, 0)
    assert store_total(store, "acct") == total([a, b, c])
    assert ingest(store, "other", [a]) == IngestResult(1, 0, 0)
    assert store_total(store, "other") == total([a])


def test_expired_events_are_not_stored(store: SQLiteStore, db: Path) -> None:
    old = ev("old", minutes_ago=2 * 24 * 60)
    edge = ev("edge", minutes_ago=24 * 60 + 10)  # exactly the retention: kept
    past_edge = Event("past", NOW_MS - MIN_RETENTION_MS - 1, -1, 1, connected())
    assert ingest(store, "acct", [old, edge, past_edge]) == IngestResult(1, 0, 2)
    with conn_to(db) as conn:
        ids = {row[0] for row in conn.execute("SELECT event_id FROM seen_event")}
    conn.close()
    assert ids == {"edge"}
    assert ingest(store, "acct", [old]) == IngestResult(0, 0, 1)


def test_group_commit_of_concurrent_submits_is_exact(store: SQLiteStore) -> None:
    pool = [
        ev(
            f"e{i}",
            minutes_ago=i % 300,
            skill=i % 4,
            agent=(i % 6) or None,
            counters=connected() if i % 6 and i % 2 else closed(i % 3 == 0, i),
        )
        for i in range(2000)
    ]
    results: list[IngestResult] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            futures: list[Future[IngestResult]] = []
            for j in range(40):
                start = (w * 97 + j * 53) % 1900
                futures.append(store.submit("acct", pool[start : start + 100], NOW_MS))
            # This worker's slice, so that together the workers cover the pool.
            futures.append(store.submit("acct", pool[w * 125 : (w + 1) * 125], NOW_MS))
            done = [f.result(timeout=60) for f in futures]
            with lock:
                results.extend(done)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(results) == 16 * 41
    assert sum(r.accepted for r in results) == len(pool)
    assert sum(r.expired for r in results) == 0
    assert store_total(store, "acct") == total(pool)
    for agent in range(1, 6):
        mine = [e for e in pool if e.agent_id == agent]
        assert store_total(store, "acct", agents=frozenset({agent})) == total(mine)


def test_rollups_are_stored_per_account_bucket_skill_agent(store: SQLiteStore, db: Path) -> None:
    events = [
        ev("1", minutes_ago=1, skill=2, agent=3, counters=connected()),
        ev("2", minutes_ago=2, skill=2, agent=3, counters=closed(True, 100)),
        ev("3", minutes_ago=3, skill=2, agent=3, counters=closed(False, 7)),
        ev("4", minutes_ago=3, skill=2, agent=4, counters=connected()),
        ev("5", minutes_ago=4, skill=2, agent=None, counters=closed(False, 9)),
        ev("6", minutes_ago=4, skill=-1, agent=None, counters=closed(False, 1)),
        ev("7", minutes_ago=20, skill=2, agent=3, counters=closed(True, 5)),
        ev("8", minutes_ago=20, skill=2, agent=0, counters=connected()),
        ev("9", minutes_ago=1, skill=2**63 - 1, agent=-(2**63), counters=connected()),
    ]
    ingest(store, "acme", events)
    ingest(store, "other", events[:2])
    b0 = (NOW_MS - MIN) // BUCKET_MS
    b3 = (NOW_MS - 20 * MIN) // BUCKET_MS
    assert b0 == NOW_BUCKET
    assert b0 == (NOW_MS - 4 * MIN) // BUCKET_MS
    with conn_to(db) as conn:
        got = {
            (row[0], row[1], row[2], row[3], row[4]): tuple(row[5:])
            for row in conn.execute("SELECT * FROM rollup")
        }
    conn.close()
    assert got == {
        ("acme", b0, 2, 1, 3): (1, 1, 100, 7, 1),
        ("acme", b0, 2, 1, 4): (0, 0, 0, 0, 1),
        ("acme", b0, 2, 0, 0): (0, 1, 0, 9, 0),
        ("acme", b0, -1, 0, 0): (0, 1, 0, 1, 0),
        ("acme", b3, 2, 1, 3): (1, 0, 5, 0, 0),
        ("acme", b3, 2, 1, 0): (0, 0, 0, 0, 1),
        ("acme", b0, 2**63 - 1, 1, -(2**63)): (0, 0, 0, 0, 1),
        ("other", b0, 2, 1, 3): (1, 0, 100, 0, 1),
    }
    # Later batches add to the same rows.
    ingest(store, "acme", [ev("10", minutes_ago=2, skill=2, agent=3, counters=closed(True, 1))])
    with conn_to(db) as conn:
        row = conn.execute(
            "SELECT interactive_chats, handling_time FROM rollup "
            "WHERE account_id = 'acme' AND bucket = ? AND skill_id = 2 AND agent_id = 3",
            (b0,),
        ).fetchone()
    conn.close()
    assert row == (2, 101)


def test_seen_event_records(store: SQLiteStore, db: Path) -> None:
    events = [ev("a", minutes_ago=1), ev("b", minutes_ago=30), ev("é" * 128, minutes_ago=100)]
    ingest(store, "acme", events + events)
    ingest(store, "zeta", events[:1])
    with conn_to(db) as conn:
        got = set(conn.execute("SELECT account_id, event_id, bucket FROM seen_event"))
    conn.close()
    assert got == {("acme", e.event_id, e.time_ms // BUCKET_MS) for e in events} | {
        ("zeta", "a", events[0].time_ms // BUCKET_MS)
    }


def test_event_ids_are_exact(store: SQLiteStore) -> None:
    ids = ["a", "A", "a ", " a", "a\x00b", "a\x00c", "\uff41"]
    assert ingest(store, "acme", [ev(i) for i in ids]) == IngestResult(len(ids), 0, 0)
    assert ingest(store, "acme", [ev(i) for i in ids]) == IngestResult(0, len(ids), 0)


def test_duplicates_switch_the_writer_to_careful_and_back(store: SQLiteStore) -> None:
    # The writer inserts ids optimistically and counts them; a batch with duplicates
    # is done again with a look-up first, and later groups stay careful until one
    # meets no duplicate. Every step must count exactly.
    a, b, nul = ev("a"), ev("b", counters=closed(True, 30)), ev("n\x00ul", agent=7)
    assert ingest(store, "acct", [a, nul]) == IngestResult(2, 0, 0)
    assert not store._careful
    c = ev("c", agent=None)
    assert ingest(store, "acct", [b, a, c, b, nul]) == IngestResult(2, 3, 0)
    assert store._careful
    assert ingest(store, "acct", [nul, ev("d")]) == IngestResult(1, 1, 0)
    assert store._careful
    assert ingest(store, "acct", [ev("e"), ev("f")]) == IngestResult(2, 0, 0)
    assert not store._careful
    assert ingest(store, "acct", [ev("g"), ev("g")]) == IngestResult(1, 1, 0)
    assert store._careful
    kept = [a, nul, b, c, ev("d"), ev("e"), ev("f"), ev("g")]
    assert store_total(store, "acct") == total(kept)
    memory = store.read("acct", span_for(NOW_MS, 1440), None, None).whole.totals
    assert tuple(memory) == total(kept)


def counts(db: Path) -> dict[str, set[tuple[str, int]]]:
    with conn_to(db) as conn:
        out = {
            table: set(conn.execute(f"SELECT account_id, bucket FROM {table}"))
            for table in ("rollup", "seen_event")
        }
    conn.close()
    return out


def row_count(db: Path) -> int:
    with conn_to(db) as conn:
        (rollups,) = conn.execute("SELECT COUNT(*) FROM rollup").fetchone()
        (seen,) = conn.execute("SELECT COUNT(*) FROM seen_event").fetchone()
    conn.close()
    return int(rollups) + int(seen)


def test_purge_removes_old_buckets_and_keeps_recent(store: SQLiteStore, db: Path) -> None:
    minutes = [0, 3, 60, 600, 1400, 1440, 1445, 1447, 1449, 1450]
    for account in ("a", "b"):
        ingest(store, account, [ev(f"{account}-{m}", minutes_ago=m) for m in minutes])
    assert store.purge(NOW_MS) == 0
    before = counts(db)
    assert len(before["seen_event"]) == 2 * len({(NOW_MS - m * MIN) // BUCKET_MS for m in minutes})

    later = NOW_MS + 5 * MIN  # now - retention moves to 24 h 5 min before NOW_MS
    cutoff = (later - MIN_RETENTION_MS) // BUCKET_MS
    kept = {(acc, b) for acc, b in before["rollup"] if b >= cutoff}
    gone = before["rollup"] - kept
    assert gone and kept
    rows_before = row_count(db)
    removed = store.purge(later)
    assert counts(db) == {"rollup": kept, "seen_event": kept}
    assert removed == rows_before - row_count(db) == 2 * len(gone)
    # The bucket that holds now - retention is kept (at least 24 h 10 min of buckets).
    assert any(b * BUCKET_MS <= later - MIN_RETENTION_MS < (b + 1) * BUCKET_MS for _, b in kept)
    assert store.purge(later) == 0

    # A redelivery of a purged event is expired, never counted again.
    for purged in (ev("a-1450", minutes_ago=1450), ev("a-1449", minutes_ago=1449)):
        assert store.submit("a", [purged], later).result(timeout=30) == IngestResult(0, 0, 1)

    # Far in the future, everything goes.
    remaining = row_count(db)
    assert store.purge(NOW_MS + 3 * DAY) == remaining > 0
    assert counts(db) == {"rollup": set(), "seen_event": set()}


def test_purge_many_buckets(store: SQLiteStore, db: Path) -> None:
    events = [ev(f"e{i}", minutes_ago=i * 5) for i in range(288)]
    ingest(store, "acct", events)
    assert row_count(db) == 2 * 288
    # now - retention is 10 min before NOW_MS: its bucket and the two after it stay.
    assert store.purge(NOW_MS + DAY) == 2 * (288 - 3)
    assert len(counts(db)["rollup"]) == 3


def test_a_sweep_under_way_when_the_cutoff_moves_misses_no_id(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ids are swept a slice per step; a sweep begun under one cutoff and finished under
    # a later one must still remove every id the later cutoff expires.
    monkeypatch.setattr(sqlite_module, "_SWEEP_IDS", 10)
    store = SQLiteStore(db, fixed_clock(NOW_MS))
    try:
        ingest(store, "acct", [ev(f"e{i:03}", minutes_ago=i * 5) for i in range(288)])
        step = sqlite_module._CallJob(lambda conn: store._purge_step(conn, NOW_MS))
        store._jobs.put(step)
        step.future.result(timeout=30)
        assert "acct" in store._sweeps  # under way: 288 ids, 10 per step
        assert store.purge(NOW_MS + DAY) == 2 * (288 - 3)
        assert row_count(db) == 2 * 3
    finally:
        store.close()


def test_writer_purges_on_its_own(db: Path) -> None:
    first = SQLiteStore(db, fixed_clock(NOW_MS))
    ingest(first, "acct", [ev("x", minutes_ago=5)])
    first.close()
    # Reopened two days later, the writer purges without being asked.
    second = SQLiteStore(db, fixed_clock(NOW_MS + 2 * DAY))
    try:
        deadline = threading.Event()
        for _ in range(200):
            if counts(db) == {"rollup": set(), "seen_event": set()}:
                break
            deadline.wait(0.05)
        assert counts(db) == {"rollup": set(), "seen_event": set()}
    finally:
        second.close()


def test_data_survives_close_and_reopen(db: Path) -> None:
    first = SQLiteStore(db, fixed_clock(NOW_MS))
    events = [ev("a"), ev("b", agent=None), ev("c", counters=closed(True, 5))]
    ingest(first, "acct", events)
    first.close()
    second = SQLiteStore(db, fixed_clock(NOW_MS))
    try:
        assert store_total(second, "acct") == total(events)
        assert ingest(second, "acct", events) == IngestResult(0, 3, 0)
    finally:
        second.close()


# -- lifecycle ------------------------------------------------------------------------------


def test_submit_after_close_is_unavailable(db: Path) -> None:
    opened = SQLiteStore(db, fixed_clock(NOW_MS))
    opened.close()
    opened.close()  # idempotent
    future = opened.submit("acct", [ev("a")], NOW_MS)
    with pytest.raises(StoreUnavailable):
        future.result(timeout=5)
    with pytest.raises(StoreUnavailable):
        opened.ping()


def test_query_after_close_is_unavailable(store: SQLiteStore) -> None:
    ingest(store, "acct", [ev("a")])
    store_total(store, "acct")  # this thread now has a reader connection
    store.close()
    with pytest.raises(StoreUnavailable):
        store_total(store, "acct")


def test_purge_after_close_does_not_hang(db: Path) -> None:
    opened = SQLiteStore(db, fixed_clock(NOW_MS))
    opened.close()
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(opened.purge(NOW_MS))
        except StoreUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "purge() after close() blocks forever"
    assert len(outcome) == 1 and isinstance(outcome[0], StoreUnavailable)


def test_pending_submits_complete_on_close(db: Path) -> None:
    opened = SQLiteStore(db, fixed_clock(NOW_MS))
    futures = [opened.submit("acct", [ev(f"e{i}")], NOW_MS) for i in range(200)]
    opened.close()
    accepted = 0
    for future in futures:
        with contextlib.suppress(StoreUnavailable):
            accepted += future.result(timeout=10).accepted
    reopened = SQLiteStore(db, fixed_clock(NOW_MS))
    try:
        # Every acknowledged event is stored; nothing else is.
        assert store_total(reopened, "acct") == (0, 0, 0, 0, accepted)
    finally:
        reopened.close()


# -- no raw events --------------------------------------------------------------------------


def test_only_rollups_and_ids_are_stored(store: SQLiteStore, db: Path) -> None:
    ingest(store, "acct", [ev("a", counters=closed(True, 12345))])
    with conn_to(db) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        seen_columns = [row[1] for row in conn.execute("PRAGMA table_info(seen_event)")]
    conn.close()
    assert tables == {"meta", "account", "rollup", "seen_event"}
    assert seen_columns == ["account_id", "event_id", "bucket"]


@pytest.mark.parametrize("interval", [None, 60])
@pytest.mark.parametrize("skills", [None, "all", frozenset({-1, 2})])
@pytest.mark.parametrize("agents", [None, "all", frozenset({1})])
def test_query_reads_only_rollups(
    interval: int | None, skills: Selection, agents: Selection
) -> None:
    sql, _ = select_rollups("acct", span_for(NOW_MS, 1440, interval), skills, agents)
    assert " FROM rollup " in sql
    assert "seen_event" not in sql


def test_query_answers_from_rollups_not_ids(store: SQLiteStore, db: Path) -> None:
    events = [ev("a", skill=2), ev("b", skill=2, counters=closed(True, 40), agent=None)]
    ingest(store, "acct", events)
    before = store_total(store, "acct")
    assert before == total(events)
    with conn_to(db) as conn:
        conn.execute("DELETE FROM seen_event")
    conn.close()
    assert store_total(store, "acct") == before
    with conn_to(db) as conn:
        conn.execute("UPDATE rollup SET connected = connected + 1000")
    conn.close()
    assert store_total(store, "acct")[4] == before[4] + 1000 * 2
