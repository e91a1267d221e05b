"""The PostgreSQL engine on a real database: schema migration, ids PostgreSQL text cannot
hold, and a copy that fell behind the change log."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from engactivity.events import Event
from engactivity.store.postgres import POSTGRES_SCHEMA_VERSION, PostgresStore, migrate
from engactivity.timeframe import span_for
from tests.conftest import NOW_MS, new_pg_database


def test_migrate_is_idempotent_and_safe_in_parallel() -> None:
    url = new_pg_database()
    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(lambda _: migrate(url), range(6))) == {POSTGRES_SCHEMA_VERSION}
    assert migrate(url) == POSTGRES_SCHEMA_VERSION
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'postgres_schema_version'")
        assert row.fetchone() == (str(POSTGRES_SCHEMA_VERSION),)


def test_ids_with_nul_and_backslash_stay_distinct() -> None:
    store = PostgresStore(new_pg_database(), lambda: NOW_MS)
    try:
        ids = ["a\0b", "a\\0b", "a\\\\0b", "a\0b"]
        events = [Event(i, NOW_MS - 1000, 1, 2, (0, 0, 0, 0, 1)) for i in ids]
        result = store.submit("acme", events, NOW_MS).result()
        assert (result.accepted, result.duplicates) == (3, 1)
    finally:
        store.close()


def test_a_copy_behind_the_pruned_change_log_reloads() -> None:
    url = new_pg_database()
    one = PostgresStore(url, lambda: NOW_MS)
    other = PostgresStore(url, lambda: NOW_MS)
    span = span_for(NOW_MS, 60)
    try:

        def connected(prefix: str, n: int) -> list[Event]:
            return [Event(f"{prefix}{i}", NOW_MS - i, 1, 2, (0, 0, 0, 0, 1)) for i in range(n)]

        one.submit("acme", connected("a", 5), NOW_MS).result()
        other.version("acme")
        assert other.read("acme", span, None, None).whole.known_totals == [0, 0, 0, 0, 5]
        one.submit("acme", connected("b", 7), NOW_MS).result()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM rollup_change")  # as if pruned long ago
        other.version("acme")
        assert other.read("acme", span, None, None).whole.known_totals == [0, 0, 0, 0, 12]
        one.version("acme")
        assert one.read("acme", span, None, None).whole.known_totals == [0, 0, 0, 0, 12]
    finally:
        one.close()
        other.close()
