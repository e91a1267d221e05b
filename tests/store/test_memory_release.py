"""How the in-memory copy keeps its resident size near the limit: an account is loaded
from a stream of rows in chunks (on PostgreSQL through a server-side cursor), and the
heap is trimmed once enough was freed by evictions and loads."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from engactivity.methods.engactivity import ROLLUP
from engactivity.store import heap, mirror
from engactivity.store.dialect import Connection
from engactivity.store.engine import Engine
from engactivity.store.heap import Heap
from tests.conftest import ENGINES, new_pg_database
from tests.store.dbutil import memory_rows, query, table_rows
from tests.store.test_engine import ev, ingest
from tests.store.test_memory_limit import ACCOUNTS, fill, opened

OPEN_CURSORS = "SELECT name FROM pg_cursors WHERE name <> ''"


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return new_pg_database()


def filled(url: str) -> None:
    store = opened(url, 1 << 40)
    try:
        events = [ev(f"a{n}", n % 300, n % 7, n % 11) for n in range(900)]
        assert ingest(store, "a", events).accepted == 900
        ingest(store, "b", [ev("b0")])
    finally:
        store.close()


def test_a_load_in_small_chunks_holds_exactly_the_database_rows(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(url)
    assert len(table_rows(url, "a")) > 100
    whole = opened(url, 1 << 40)
    try:
        in_one = memory_rows(whole, "a")
    finally:
        whole.close()
    monkeypatch.setattr(mirror, "_LOAD_CHUNK", 7)  # many chunks, a row key in several
    store = opened(url, 1 << 40)
    try:
        assert memory_rows(store, "a") == table_rows(url, "a") == in_one
    finally:
        store.close()


def test_the_stream_gives_every_row_in_chunks_no_larger_than_asked(url: str) -> None:
    filled(url)
    store = opened(url, 1 << 40)
    assert isinstance(store, Engine)
    db = store._mirror.db
    select = f"SELECT bucket FROM {ROLLUP.name} WHERE account_id = ? ORDER BY bucket"
    statement = db.sql(select)
    expected = [row[0] for row in query(url, select, ["a"])]
    cursors: list[list[object]] = []

    def read(conn: Connection) -> list[list[object]]:
        db.dialect.begin(conn, snapshot=True)
        try:
            chunks = []
            for chunk in db.dialect.stream(conn, statement, ["a"], 10):
                chunks.append([row[0] for row in chunk])
                if db.dialect.shared:  # a cursor of the server's, not rows held here
                    cursors.append(conn.execute(OPEN_CURSORS).fetchall())
            return chunks
        finally:
            conn.execute("COMMIT")

    try:
        chunks = db.read(read)
    finally:
        store.close()
    assert all(len(chunk) <= 10 for chunk in chunks)
    assert [bucket for chunk in chunks for bucket in chunk] == expected
    if url.startswith("postgresql://"):
        assert cursors and all(found == [("engactivity_load",)] for found in cursors)


def test_evictions_and_loads_trim_the_heap_once_enough_was_freed(url: str) -> None:
    filled(url)
    store = opened(url, 1)  # one account at a time: each load evicts the other
    assert isinstance(store, Engine)
    try:
        trims = store._mirror.heap
        trims.every = 1 << 40
        store.version("a")
        store.version("b")
        assert trims.trims == 0  # not enough freed yet
        trims.every = 1
        store.version("a")  # "b" evicted, "a" loaded
        assert trims.trims >= 1
        assert memory_rows(store, "a") == table_rows(url, "a")
    finally:
        store.close()


def test_the_heap_counts_what_was_freed_between_trims() -> None:
    counted = Heap(every=100)
    counted.freed(60)
    assert counted.trims == 0
    counted.freed(60)
    assert counted.trims == 1
    counted.freed(99)
    assert counted.trims == 1  # counting starts again after a trim


def test_the_heap_is_released_on_glibc() -> None:
    assert heap.release() is (platform.libc_ver()[0] == "glibc")


def test_an_account_evicted_before_makes_room_for_itself_before_its_load(url: str) -> None:
    size = fill(url)
    store = opened(url, size * 5 // 2)  # room for two of the three
    assert isinstance(store, Engine)
    try:
        for account in ACCOUNTS:
            store.version(account)
        assert [store.resident(a) for a in ACCOUNTS] == [False, True, True]
        store._mirror._make_room("never-seen")  # no size known: nothing to make room for
        assert store.memory().resident == 2
        store._mirror._make_room("a")  # "a" took `size`: "b", least recent, goes first
        assert [store.resident(a) for a in ACCOUNTS] == [False, False, True]
        store.version("a")
        assert [store.resident(a) for a in ACCOUNTS] == [True, False, True]
        assert store.memory().evictions == 2
        assert memory_rows(store, "a") == table_rows(url, "a")
    finally:
        store.close()
