"""The store's memory limit, used directly on both databases: accounts loaded on first
use, the least recently used evicted, the accounting of their memory, and loads that
race with commits counting each group once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from engactivity.clock import fixed_clock
from engactivity.methods import tables_of
from engactivity.store import Store, open_store
from engactivity.store.engine import Engine
from tests.conftest import ENGINES, NOW_MS, new_pg_database
from tests.store.dbutil import memory_rows, table_rows
from tests.store.test_engine import ev, ingest

ACCOUNTS = ("a", "b", "c")


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return new_pg_database()


def opened(url: str, memory_bytes: int) -> Store:
    return open_store(url, fixed_clock(NOW_MS), tables_of(), memory_bytes=memory_bytes)


def fill(url: str) -> int:
    """The same events (by shape) in each account; the memory one of them takes."""
    store = opened(url, 1 << 40)
    try:
        for account in ACCOUNTS:
            events = [ev(f"{account}{n}", n % 300, n % 7, n % 11) for n in range(400)]
            assert ingest(store, account, events).accepted == 400
            store.version(account)
        return store.memory().in_use_bytes // len(ACCOUNTS)
    finally:
        store.close()


def test_the_least_recently_used_account_is_evicted_first(url: str) -> None:
    size = fill(url)
    store = opened(url, size * 5 // 2)  # room for two accounts, not three
    try:
        assert store.memory().resident == 0  # nothing is loaded at start
        for account in ACCOUNTS:
            store.version(account)
        assert [store.resident(a) for a in ACCOUNTS] == [False, True, True]
        store.version("b")  # now "c" is the least recently used
        store.version("a")
        assert [store.resident(a) for a in ACCOUNTS] == [True, True, False]
        stats = store.memory()
        assert (stats.resident, stats.loads, stats.evictions) == (2, 4, 2)
        assert stats.in_use_bytes == 2 * size  # the same shape: the same estimate
        assert stats.limit_bytes == size * 5 // 2
        for account in ACCOUNTS:  # each loaded whole, "c" again
            assert memory_rows(store, account) == table_rows(url, account)
    finally:
        store.close()


def test_the_most_recent_account_stays_even_over_the_limit(url: str) -> None:
    fill(url)
    store = opened(url, 1)
    try:
        for account in ACCOUNTS:
            assert memory_rows(store, account) == table_rows(url, account)
            assert store.resident(account)
        stats = store.memory()
        assert (stats.resident, stats.evictions) == (1, 2)
        assert stats.in_use_bytes > stats.limit_bytes
    finally:
        store.close()


def test_memory_in_use_follows_writes_and_evictions(url: str) -> None:
    store = opened(url, 1 << 40)
    try:
        ingest(store, "a", [ev("a0")])
        store.version("a")
        small = store.memory().in_use_bytes
        ingest(store, "a", [ev(f"a{n}", n % 500, n % 13, n) for n in range(1, 2000)])
        assert store.memory().in_use_bytes > small  # redone when a group is applied
    finally:
        store.close()


def committed_not_applied(store: Engine, url: str, gate: threading.Event) -> Future[Any]:
    """A group of 49 events for account "a" submitted while the completer waits for
    ``gate``: once this returns, it is committed and not yet applied to memory."""
    store._call_completer(gate.wait)
    pending = store.submit("a", [ev(f"a{n}", n, n % 3) for n in range(1, 50)], NOW_MS)
    deadline = time.monotonic() + 30
    while len(table_rows(url, "a")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return pending


def test_a_group_committed_before_a_load_and_applied_after_counts_once(url: str) -> None:
    """The completer is held back, so a committed group waits to be applied while the
    account is loaded (its snapshot holds the group): applying it then adds nothing."""
    store = opened(url, 1 << 40)
    assert isinstance(store, Engine)
    try:
        ingest(store, "a", [ev("a0")])
        gate = threading.Event()
        pending = committed_not_applied(store, url, gate)
        assert not pending.done()
        store.version("a")  # loaded now, with the group
        gate.set()
        assert pending.result(timeout=30).accepted == 49
        assert memory_rows(store, "a") == table_rows(url, "a")
        ingest(store, "a", [ev("a-after", 2, 1)])  # and later groups are applied
        assert memory_rows(store, "a") == table_rows(url, "a")
    finally:
        store.close()


def test_an_own_group_applied_while_a_catch_up_reads_counts_once() -> None:
    """Shared databases: a reader catching up with the recorded deltas reads this
    process's own new group too; the completer applies that group to the copy before the
    reader takes the copy's lock. The reader must skip it, not add it a second time."""
    url = new_pg_database()
    store = opened(url, 1 << 40)
    assert isinstance(store, Engine)
    try:
        ingest(store, "a", [ev("a0")])
        store.version("a")  # in memory, at the database's version
        gate = threading.Event()
        pending = committed_not_applied(store, url, gate)
        dialect = store._mirror.db.dialect
        read_changes = dialect.changes

        def changes_then_apply(*args: Any) -> list[bytes] | None:
            blobs = read_changes(*args)
            gate.set()  # the completer applies the group now, before the reader goes on
            pending.result(timeout=30)
            return blobs

        dialect.changes = changes_then_apply  # type: ignore[method-assign]
        try:
            store.version("a")
        finally:
            dialect.changes = read_changes  # type: ignore[method-assign]
        assert memory_rows(store, "a") == table_rows(url, "a")
    finally:
        gate.set()
        store.close()
