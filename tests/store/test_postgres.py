"""What is PostgreSQL's own in the store: schema migration, ids PostgreSQL text cannot
hold, processes catching up through the change log, and one that fell behind it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from engactivity.methods import tables_of
from engactivity.store import migrate_store, open_store
from engactivity.store.postgres import POSTGRES_SCHEMA_VERSION
from tests.conftest import NOW_MS, new_pg_database
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
