"""What is PostgreSQL's own in the store: schema migration, ids PostgreSQL text cannot
hold, processes catching up through the change log, and one that fell behind it."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import psycopg

from engactivity.methods import tables_of
from engactivity.store import IngestResult, migrate_store, open_store
from engactivity.store.postgres import POSTGRES_SCHEMA_VERSION
from tests.conftest import MIN, NOW_MS, new_pg_database
from tests.factories import connected
from tests.store.dbutil import memory_rows, table_rows


def test_migrate_is_idempotent_and_safe_in_parallel() -> None:
    url = new_pg_database()
    with ThreadPoolExecutor(6) as pool:
        versions = set(pool.map(lambda _: migrate_store(url, tables_of()), range(6)))
    assert versions == {POSTGRES_SCHEMA_VERSION}
    assert migrate_store(url, tables_of()) == POSTGRES_SCHEMA_VERSION
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'postgres_schema_version'")
        assert row.fetchone() == (str(POSTGRES_SCHEMA_VERSION),)


def test_ids_with_nul_and_backslash_stay_distinct() -> None:
    store = open_store(new_pg_database(), lambda: NOW_MS, tables_of())
    try:
        ids = ["a\0b", "a\\0b", "a\\\\0b", "a\0b"]
        result = store.submit("acme", [connected(i, NOW_MS - 1000) for i in ids], NOW_MS).result()
        assert (result.accepted, result.duplicates) == (3, 1)
    finally:
        store.close()


def test_processes_catch_up_and_one_behind_the_pruned_change_log_reloads() -> None:
    url = new_pg_database()
    one = open_store(url, lambda: NOW_MS, tables_of())
    other = open_store(url, lambda: NOW_MS, tables_of())
    try:

        def batch(prefix: str, n: int) -> list:  # type: ignore[type-arg]
            return [connected(f"{prefix}{i}", NOW_MS - i - 1, 1, 2) for i in range(n)]

        one.submit("acme", batch("a", 5), NOW_MS).result()
        other.version("acme")
        assert memory_rows(other, "acme") == table_rows(url, "acme")
        one.submit("acme", batch("b", 7), NOW_MS).result()
        other.version("acme")  # catches up from the change log
        assert memory_rows(other, "acme") == table_rows(url, "acme")
        other.submit("acme", batch("c", 3), NOW_MS).result()
        one.submit("acme", batch("d", 2), NOW_MS).result()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM rollup_change")  # as if pruned long ago
        for store in (one, other):
            store.version("acme")
            assert memory_rows(store, "acme") == table_rows(url, "acme")
        with one.snapshot("acme") as state:
            assert state.db_version == 4
    finally:
        one.close()
        other.close()


def test_two_processes_writing_the_same_rows_count_each_event_once() -> None:
    # Two stores on one database, as two processes: each gets every event, from two
    # threads each, in other orders and batches, so their groups insert the same ids
    # and upsert the same rows at the same time (they wait for each other's COMMIT).
    url, once = new_pg_database(), new_pg_database()
    pool = [connected(f"e{i}", NOW_MS - (i % 40) * MIN - 1, i % 3, i % 4 + 1) for i in range(2400)]
    stores = [open_store(url, lambda: NOW_MS, tables_of()) for _ in range(2)]
    reference = open_store(once, lambda: NOW_MS, tables_of())

    def send(seed: int) -> list[IngestResult]:
        events = random.Random(seed).sample(pool, len(pool))
        size = 50 + 25 * seed
        store = stores[seed % 2]
        futures = [
            store.submit("acme", events[i : i + size], NOW_MS) for i in range(0, len(pool), size)
        ]
        return [future.result(timeout=120) for future in futures]

    try:
        with ThreadPoolExecutor(4) as threads:
            results = [r for batch in threads.map(send, range(4)) for r in batch]
        reference.submit("acme", pool, NOW_MS).result()
        assert sum(r.accepted for r in results) == len(pool)
        assert sum(r.duplicates for r in results) == 3 * len(pool)
        assert table_rows(url, "acme") == table_rows(once, "acme")
        for store in stores:
            store.version("acme")
            assert memory_rows(store, "acme") == table_rows(url, "acme")
    finally:
        for store in (*stores, reference):
            store.close()


def test_a_database_of_schema_1_is_upgraded_in_place_and_its_ids_still_count() -> None:
    # Schema 1 indexed event ids by bucket too, under the database's collation.
    url = new_pg_database()
    migrate_store(url, tables_of())
    old = [connected(f"old{i}", NOW_MS - i * MIN - 1) for i in range(30)]
    store = open_store(url, lambda: NOW_MS, tables_of())
    try:
        store.submit("acme", old, NOW_MS).result()
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('ALTER TABLE seen_event ALTER COLUMN event_id TYPE TEXT COLLATE "default"')
        conn.execute("CREATE INDEX seen_event_by_bucket ON seen_event (account_id, bucket)")
        conn.execute("ALTER TABLE rollup_change ALTER COLUMN deltas SET COMPRESSION pglz")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'postgres_schema_version'")
    store = open_store(url, lambda: NOW_MS, tables_of())
    try:
        again = [connected(f"old{i}", NOW_MS - i * MIN - 1) for i in range(0, 30, 3)]
        new = [connected(f"new{i}", NOW_MS - i * MIN - 1) for i in range(5)]
        result = store.submit("acme", again + new, NOW_MS).result()
        assert (result.accepted, result.duplicates) == (5, 10)
        with psycopg.connect(url) as conn:
            indexes = conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'seen_event'"
            ).fetchall()
            version = conn.execute(
                "SELECT value FROM meta WHERE key = 'postgres_schema_version'"
            ).fetchone()
            compression = conn.execute(
                "SELECT attcompression FROM pg_attribute "
                "WHERE attrelid = 'rollup_change'::regclass AND attname = 'deltas'"
            ).fetchone()
        assert indexes == [("seen_event_pkey",)] and version == (str(POSTGRES_SCHEMA_VERSION),)
        assert compression == ("l",)  # lz4: Debian's and the PGDG's builds have it
        # Every id expires a day later: the sweep finds them without the index.
        assert store.purge(NOW_MS + 2 * 24 * 60 * MIN) > 35
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM seen_event").fetchone() == (0,)
    finally:
        store.close()
