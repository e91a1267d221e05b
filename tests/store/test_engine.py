"""The store's engine, used directly, on both databases: group commit, deduplication,
rows, memory, retention and its life cycle."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from engactivity.clock import fixed_clock
from engactivity.core.events import Event
from engactivity.core.timeframe import BUCKET_MS
from engactivity.methods import tables_of
from engactivity.store import (
    MIN_RETENTION_MS,
    IngestResult,
    Store,
    StoreUnavailable,
    open_store,
    retention,
)
from engactivity.store.engine import Engine
from engactivity.store.jobs import CallJob
from tests.conftest import ENGINES, MIN, NOW_MS, new_pg_database
from tests.factories import closed, connected, counters
from tests.store.dbutil import memory_rows, query, table_rows, totals

DAY = 24 * 60 * MIN
NOW_BUCKET = NOW_MS // BUCKET_MS


def ev(event_id: str, minutes_ago: float = 1, skill: int = -1, agent: int | None = 1) -> Event:
    time_ms = NOW_MS - int(minutes_ago * MIN)
    if agent is None:
        return closed(event_id, time_ms, skill)
    return connected(event_id, time_ms, skill, agent)


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return new_pg_database()


def open_engine(url: str, now_ms: int = NOW_MS) -> Store:
    return open_store(url, fixed_clock(now_ms), tables_of())


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    opened = open_engine(url)
    yield opened
    opened.close()


def ingest(store: Store, account: str, events: list[Event], now: int = NOW_MS) -> IngestResult:
    return store.submit(account, events, now).result(timeout=30)


def test_retention_below_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_store(
            f"sqlite:///{tmp_path / 'x.db'}", fixed_clock(NOW_MS), tables_of(), MIN_RETENTION_MS - 1
        )


def test_submit_counts_and_dedups(store: Store, url: str) -> None:
    a, b, c = ev("a"), closed("b", interactive=True, handling=30, agent=1), ev("c", agent=None)
    assert ingest(store, "acct", [a, b, a]) == IngestResult(2, 1, 0)
    assert ingest(store, "acct", [b, c]) == IngestResult(1, 1, 0)
    assert ingest(store, "acct", []) == IngestResult(0, 0, 0)
    assert totals(url, "acct") == counters([a, b, c])
    assert ingest(store, "other", [a]) == IngestResult(1, 0, 0)
    assert totals(url, "other") == counters([a])
    for account in ("acct", "other"):
        store.version(account)
        assert memory_rows(store, account) == table_rows(url, account)


def test_expired_events_are_not_stored(store: Store, url: str) -> None:
    old = ev("old", minutes_ago=2 * 24 * 60)
    edge = ev("edge", minutes_ago=24 * 60 + 10)  # exactly the retention: kept
    past_edge = connected("past", NOW_MS - MIN_RETENTION_MS - 1)
    assert ingest(store, "acct", [old, edge, past_edge]) == IngestResult(1, 0, 2)
    assert {row[0] for row in query(url, "SELECT event_id FROM seen_event")} == {"edge"}
    assert ingest(store, "acct", [old]) == IngestResult(0, 0, 1)


def test_group_commit_of_concurrent_submits_is_exact(store: Store, url: str) -> None:
    pool = [
        ev(f"e{i}", minutes_ago=i % 300, skill=i % 4, agent=(i % 6) or None) for i in range(2000)
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
    assert totals(url, "acct") == counters(pool)
    for agent in range(1, 6):
        mine = [e for e in pool if e.agent_id == agent]
        assert totals(url, "acct", frozenset({agent})) == counters(mine)
    store.version("acct")
    assert memory_rows(store, "acct") == table_rows(url, "acct")


def test_rows_are_kept_per_account_bucket_skill_agent(store: Store, url: str) -> None:
    events = [
        connected("1", NOW_MS - 1 * MIN, 2, 3),
        closed("2", NOW_MS - 2 * MIN, 2, 3, True, 100),
        closed("3", NOW_MS - 3 * MIN, 2, 3, False, 7),
        connected("4", NOW_MS - 3 * MIN, 2, 4),
        closed("5", NOW_MS - 4 * MIN, 2, None, False, 9),
        closed("6", NOW_MS - 4 * MIN, None, None, False, 1),
        closed("7", NOW_MS - 20 * MIN, 2, 3, True, 5),
        connected("8", NOW_MS - 20 * MIN, 2, 0),
        connected("9", NOW_MS - 1 * MIN, 2**63 - 1, -(2**63)),
    ]
    ingest(store, "acme", events)
    ingest(store, "other", events[:2])
    b0 = (NOW_MS - MIN) // BUCKET_MS
    b3 = (NOW_MS - 20 * MIN) // BUCKET_MS
    assert b0 == NOW_BUCKET == (NOW_MS - 4 * MIN) // BUCKET_MS
    assert table_rows(url) == {
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
    ingest(store, "acme", [closed("10", NOW_MS - 2 * MIN, 2, 3, True, 1)])
    assert table_rows(url)[("acme", b0, 2, 1, 3)] == (2, 1, 101, 7, 1)
    store.version("acme")
    assert memory_rows(store, "acme") == table_rows(url, "acme")


def test_seen_event_records(store: Store, url: str) -> None:
    events = [ev("a", minutes_ago=1), ev("b", minutes_ago=30), ev("é" * 128, minutes_ago=100)]
    ingest(store, "acme", events + events)
    ingest(store, "zeta", events[:1])
    got = set(query(url, "SELECT account_id, event_id, bucket FROM seen_event"))
    assert got == {("acme", e.event_id, e.time // BUCKET_MS) for e in events} | {
        ("zeta", "a", events[0].time // BUCKET_MS)
    }


def test_event_ids_are_exact(store: Store) -> None:
    ids = ["a", "A", "a ", " a", "a\x00b", "a\x00c", "\uff41", "a\\0b", "a\\\\0b"]
    assert ingest(store, "acme", [ev(i) for i in ids]) == IngestResult(len(ids), 0, 0)
    assert ingest(store, "acme", [ev(i) for i in ids]) == IngestResult(0, len(ids), 0)


def test_duplicates_switch_the_writer_to_careful_and_back(store: Store, url: str) -> None:
    # The writer inserts ids optimistically and counts them; a batch with duplicates
    # is done again with a look-up first, and later groups stay careful until one
    # meets no duplicate. Every step must count exactly.
    assert isinstance(store, Engine)
    a, b, nul = ev("a"), closed("b", interactive=True, handling=30), ev("n\x00ul", agent=7)
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
    assert totals(url, "acct") == counters(kept)
    store.version("acct")
    assert memory_rows(store, "acct") == table_rows(url, "acct")


def counts(url: str) -> dict[str, set[tuple[str, int]]]:
    return {
        table: set(query(url, f"SELECT account_id, bucket FROM {table}"))
        for table in ("rollup", "seen_event")
    }


TABLES = [table.name for table in tables_of()]
ROWS_PER_EVENT = 1 + sum(table.bucketed for table in tables_of())
"""A connected event alone in its bucket: its id, and a row in every bucket table."""


def row_count(url: str) -> int:
    names = ["seen_event", *TABLES]
    return sum(query(url, f"SELECT COUNT(*) FROM {t}")[0][0] for t in names)


def test_purge_removes_old_buckets_and_keeps_recent(store: Store, url: str) -> None:
    minutes = [0, 3, 60, 600, 1400, 1440, 1445, 1447, 1449, 1450]
    for account in ("a", "b"):
        ingest(store, account, [ev(f"{account}-{m}", minutes_ago=m) for m in minutes])
    assert store.purge(NOW_MS) == 0
    before = counts(url)
    assert len(before["seen_event"]) == 2 * len({(NOW_MS - m * MIN) // BUCKET_MS for m in minutes})

    later = NOW_MS + 5 * MIN  # now - retention moves to 24 h 5 min before NOW_MS
    cutoff = (later - MIN_RETENTION_MS) // BUCKET_MS
    kept = {(acc, b) for acc, b in before["rollup"] if b >= cutoff}
    gone = before["rollup"] - kept
    assert gone and kept
    rows_before = row_count(url)
    removed = store.purge(later)
    assert counts(url) == {"rollup": kept, "seen_event": kept}
    assert removed == rows_before - row_count(url) == ROWS_PER_EVENT * len(gone)
    # The bucket that holds now - retention is kept (at least 24 h 10 min of buckets).
    assert any(b * BUCKET_MS <= later - MIN_RETENTION_MS < (b + 1) * BUCKET_MS for _, b in kept)
    assert store.purge(later) == 0
    for account in ("a", "b"):  # memory dropped them too
        store.version(account)
        assert memory_rows(store, account) == table_rows(url, account)

    # A redelivery of a purged event is expired, never counted again.
    for purged in (ev("a-1450", minutes_ago=1450), ev("a-1449", minutes_ago=1449)):
        assert store.submit("a", [purged], later).result(timeout=30) == IngestResult(0, 0, 1)

    # Far in the future, everything goes.
    remaining = row_count(url)
    assert store.purge(NOW_MS + 3 * DAY) == remaining > 0
    assert counts(url) == {"rollup": set(), "seen_event": set()}


def test_purge_many_buckets(store: Store, url: str) -> None:
    events = [ev(f"e{i}", minutes_ago=i * 5) for i in range(288)]
    ingest(store, "acct", events)
    assert row_count(url) == ROWS_PER_EVENT * 288
    # now - retention is 10 min before NOW_MS: its bucket and the two after it stay.
    assert store.purge(NOW_MS + DAY) == ROWS_PER_EVENT * (288 - 3)
    assert len(counts(url)["rollup"]) == 3


def test_writer_purges_on_its_own(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "STEP_S", 0.0)  # one account per step
    first = open_engine(url)
    for n in range(5):
        ingest(first, f"acct{n}", [ev(f"x{n}", minutes_ago=5), ev(f"y{n}", minutes_ago=1)])
    first.close()
    # Reopened two days later, the writer purges every account without being asked.
    second = open_engine(url, NOW_MS + 2 * DAY)
    try:
        deadline = threading.Event()
        for _ in range(200):
            if counts(url) == {"rollup": set(), "seen_event": set()}:
                break
            deadline.wait(0.05)
        assert counts(url) == {"rollup": set(), "seen_event": set()}
    finally:
        second.close()


def test_a_retention_step_looks_at_few_accounts_and_skips_clean_ones(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With thousands of accounts, a step over all of them held ingestion for seconds.
    monkeypatch.setattr(retention, "STEP_S", 0.0)  # one account per step
    monkeypatch.setattr(retention, "_EVERY_S", 3600.0)  # no step but the test's
    monkeypatch.setattr(retention, "_AGAIN_S", 3600.0)
    looked: list[str] = []
    purge_account = retention.Retention._purge_account

    def counted(
        self: retention.Retention, conn: object, account: str, cutoff: int, eager: bool
    ) -> object:
        looked.append(account)
        return purge_account(self, conn, account, cutoff, eager)  # type: ignore[arg-type]

    monkeypatch.setattr(retention.Retention, "_purge_account", counted)
    store = open_engine(url)
    assert isinstance(store, Engine)
    try:
        accounts = [f"acct{n}" for n in range(4)]
        for account in accounts:
            ingest(store, account, [ev(f"{account}-old", minutes_ago=1445), ev(f"{account}-new")])
        assert store.purge(NOW_MS) == 0
        assert set(looked) == set(accounts)  # an explicit purge looks at every account

        def step(now_ms: int) -> int:
            job = CallJob(lambda conn: store._retention.step(conn, now_ms, store._call_completer))
            store._jobs.put(job)
            removed: int = job.future.result(timeout=30)
            return removed

        looked.clear()
        assert step(NOW_MS) == 0
        assert looked == []  # found clean under this cutoff: left alone
        later = NOW_MS + 3 * BUCKET_MS  # the cutoff moves: the old events expire
        removed = [step(later) for _ in accounts]
        assert sorted(looked) == accounts  # one account per step, each once
        assert all(r > 0 for r in removed)
        looked.clear()
        assert [step(later) for _ in accounts] == [0] * len(accounts)  # a pass finds them clean
        assert sorted(looked) == accounts
        looked.clear()
        assert step(later) == 0 and looked == []  # and leaves them alone since
        assert {b for _, b in counts(url)["rollup"]} == {(NOW_MS - MIN) // BUCKET_MS}
    finally:
        store.close()


def test_event_ids_are_swept_once_an_hour_of_buckets_expired(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sweep reads every id of the account: once per bucket it read the whole table
    # every five minutes. The writer's own steps sweep once the cutoff moved an hour;
    # the expired buckets' rows go at once, and an explicit purge takes the ids too.
    monkeypatch.setattr(retention, "_EVERY_S", 3600.0)  # no step but the test's
    monkeypatch.setattr(retention, "_AGAIN_S", 3600.0)
    store = open_engine(url)
    assert isinstance(store, Engine)

    def step(now_ms: int) -> None:
        job = CallJob(lambda conn: store._retention.step(conn, now_ms, store._call_completer))
        store._jobs.put(job)
        job.future.result(timeout=30)

    def ids() -> set[str]:
        return {event_id for (event_id,) in query(url, "SELECT event_id FROM seen_event")}

    try:
        ingest(store, "acct", [ev("old", minutes_ago=1445), ev("new")])
        for _ in range(3):  # the first sweep since the start: at once (nothing expired yet)
            step(NOW_MS)
        assert ids() == {"old", "new"}
        later = NOW_MS + 3 * BUCKET_MS  # "old" expires: its rows go, its id stays
        for _ in range(3):
            step(later)
        assert {b for _, b in counts(url)["rollup"]} == {(NOW_MS - MIN) // BUCKET_MS}
        assert ids() == {"old", "new"}
        # Still a duplicate, as EVENTS.md has it (a repeated id whenever it comes).
        assert ingest(store, "acct", [ev("old")], later).duplicates == 1
        for _ in range(3):  # an hour of buckets since the last sweep
            step(NOW_MS + 12 * BUCKET_MS)
        assert ids() == {"new"}
        at = NOW_MS + 13 * BUCKET_MS
        ingest(store, "acct", [ev("soon-old", minutes_ago=1380)], at)
        assert store.purge(at + 4 * BUCKET_MS) > 0  # explicit: its id at once
        assert ids() == {"new"}
    finally:
        store.close()


def test_data_survives_close_and_reopen(url: str) -> None:
    first = open_engine(url)
    events = [ev("a"), ev("b", agent=None), closed("c", interactive=True, handling=5)]
    ingest(first, "acct", events)
    first.close()
    second = open_engine(url)
    try:
        second.version("acct")
        assert memory_rows(second, "acct") == table_rows(url, "acct")
        assert totals(url, "acct") == counters(events)
        assert ingest(second, "acct", events) == IngestResult(0, 3, 0)
    finally:
        second.close()


def test_version_changes_with_data_and_purge(store: Store) -> None:
    assert store.version("acct") == 0
    ingest(store, "acct", [ev("a")])
    after_write = store.version("acct")
    assert after_write > 0
    ingest(store, "acct", [ev("a")])
    assert store.version("acct") == after_write  # a duplicate changes nothing
    store.purge(NOW_MS + 3 * DAY)
    assert store.version("acct") > after_write


# -- life cycle ------------------------------------------------------------------------------


def test_submit_after_close_is_unavailable(url: str) -> None:
    opened = open_engine(url)
    opened.close()
    opened.close()  # idempotent
    future = opened.submit("acct", [ev("a")], NOW_MS)
    with pytest.raises(StoreUnavailable):
        future.result(timeout=5)
    with pytest.raises(StoreUnavailable):
        opened.ping()


def test_purge_after_close_does_not_hang(url: str) -> None:
    opened = open_engine(url)
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


def test_pending_submits_complete_on_close(url: str) -> None:
    opened = open_engine(url)
    futures = [opened.submit("acct", [ev(f"e{i}")], NOW_MS) for i in range(200)]
    opened.close()
    accepted = 0
    for future in futures:
        with contextlib.suppress(StoreUnavailable):
            accepted += future.result(timeout=10).accepted
    # Every acknowledged event is stored; nothing else is.
    assert totals(url, "acct") == (0, 0, 0, 0, accepted)


def test_the_store_reads_only_its_tables(store: Store, url: str) -> None:
    # Answers come from rows; the event ids are only for deduplication.
    events = [ev("a", skill=2), closed("b", skill=2, interactive=True, handling=40)]
    ingest(store, "acct", events)
    query(url, "DELETE FROM seen_event")
    reopened = open_engine(url)
    try:
        reopened.version("acct")
        assert memory_rows(reopened, "acct") == table_rows(url, "acct")
    finally:
        reopened.close()
