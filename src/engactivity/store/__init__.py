"""The store: where events are counted, durably, and what answers are read from.

Open one by URL (``url.py``). The tables it keeps are those the methods declare
(``engactivity.methods.tables_of``); its public face is the Store interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from engactivity.clock import Clock
from engactivity.store.database import Database
from engactivity.store.interface import (
    DEFAULT_MEMORY_BYTES,
    MIN_RETENTION_MS,
    IngestResult,
    MemoryStats,
    Store,
    StoreUnavailable,
    TableStats,
)
from engactivity.store.tables import Table
from engactivity.store.url import (
    DEFAULT_STORE_URL,
    StoreURL,
    StoreURLError,
    check_store_url,
    mask_url,
    parse_store_url,
)

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_STORE_URL",
    "MIN_RETENTION_MS",
    "Database",
    "IngestResult",
    "MemoryStats",
    "Store",
    "StoreURL",
    "StoreURLError",
    "StoreUnavailable",
    "TableStats",
    "check_store_url",
    "mask_url",
    "migrate_store",
    "open_database",
    "open_store",
    "parse_store_url",
]


def open_database(url: str | StoreURL, synchronous: str = "FULL") -> Database:
    """The database ``url`` names, with its dialect (``synchronous``: SQLite only)."""
    where = url if isinstance(url, StoreURL) else parse_store_url(url)
    if where.engine == "sqlite":
        from engactivity.store.sqlite import SQLiteDialect

        mode: Literal["FULL", "NORMAL"] = "NORMAL" if synchronous.upper() == "NORMAL" else "FULL"
        return Database(SQLiteDialect(where.path, mode))
    from engactivity.store.postgres import PostgresDialect

    return Database(PostgresDialect(where.url))


def open_store(
    url: str | StoreURL,
    clock: Clock,
    tables: Sequence[Table],
    retention_ms: int = MIN_RETENTION_MS,
    synchronous: str = "FULL",
    database: Database | None = None,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> Store:
    """The store ``url`` names, keeping ``tables`` (their accounts in ``memory_bytes``);
    it closes the database it opened."""
    from engactivity.store.engine import Engine

    db = database or open_database(url, synchronous)
    try:
        return Engine(db, tables, clock, retention_ms, database is None, memory_bytes=memory_bytes)
    except BaseException:
        if database is None:
            db.close()
        raise


def migrate_store(url: str | StoreURL, tables: Sequence[Table]) -> int:
    """Create or upgrade the schema of the store ``url`` names; its schema version."""
    db = open_database(url)
    try:
        return db.migrate(tables)
    finally:
        db.close()
