"""Store engines behind one interface; pick one by URL."""

from __future__ import annotations

from engactivity.clock import Clock
from engactivity.store.base import MIN_RETENTION_MS, IngestResult, Store, StoreUnavailable

__all__ = [
    "MIN_RETENTION_MS",
    "IngestResult",
    "Store",
    "StoreUnavailable",
    "migrate_store",
    "open_store",
]


class StoreURLError(ValueError):
    pass


def open_store(
    url: str, clock: Clock, retention_ms: int = MIN_RETENTION_MS, synchronous: str = "FULL"
) -> Store:
    """Open the store named by ``url`` (``sqlite:///relative.db`` or ``sqlite:////abs.db``)."""
    if url.startswith("sqlite:///"):
        from engactivity.store.sqlite import SQLiteStore, path_from_url

        return SQLiteStore(
            path_from_url(url),
            clock,
            retention_ms,
            "NORMAL" if synchronous.upper() == "NORMAL" else "FULL",
        )
    if url.startswith(("postgresql://", "postgres://")):
        from engactivity.store.postgres import PostgresStore

        return PostgresStore(url, clock, retention_ms)
    raise StoreURLError(
        f"unsupported store URL {url!r}: use sqlite:///relative/path.db or sqlite:////absolute/path.db"
    )


def migrate_store(url: str) -> int:
    """Create or upgrade the schema of the store named by ``url``; its schema version."""
    if url.startswith(("postgresql://", "postgres://")):
        from engactivity.store.postgres import migrate

        return migrate(url)
    from engactivity.store.schema import SCHEMA_VERSION

    open_store(url, lambda: 0).close()  # SQLite prepares its schema on opening
    return SCHEMA_VERSION
