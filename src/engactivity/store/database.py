"""A store's database: its dialect and connections, with driver errors mapped in one place.

The event store (``engine.py``), the key store (``keys.py``) and the tables still to
come all reach the database through this object, so they share its connections and
its dialect, and a driver error always becomes the same StoreUnavailable (503).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from engactivity.store.dialect import Connection, Dialect
from engactivity.store.interface import StoreUnavailable
from engactivity.store.tables import Table

log = logging.getLogger(__name__)

T = TypeVar("T")


class Database:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.sql = dialect.sql

    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """Driver errors inside the block become StoreUnavailable."""
        try:
            yield
        except StoreUnavailable:
            raise
        except Exception as exc:
            mapped = self.dialect.unavailable(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a read; a connection the server dropped (a restart) is replaced once.

        Written without a context manager of its own: key lookups take this path on
        every request.
        """
        dialect = self.dialect
        try:
            try:
                with dialect.reading() as conn:
                    return fn(conn)
            except Exception as exc:
                if not dialect.retry_read(exc):
                    raise
            with dialect.reading() as conn:
                return fn(conn)
        except StoreUnavailable:
            raise
        except Exception as exc:
            mapped = dialect.unavailable(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one short write transaction (rare writes: keys, settings)."""
        with self.mapped_errors(), self.dialect.writing() as conn:
            return self.in_transaction(conn, fn)

    def in_transaction(self, conn: Connection, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on ``conn`` in one transaction: committed, or rolled back if it raises."""
        self.dialect.begin(conn)
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` once on a writing connection, each statement its own transaction."""
        with self.mapped_errors(), self.dialect.writing() as conn:
            return fn(conn)

    def ensure(self, ddl: str) -> None:
        """Create tables (and indexes) that do not exist yet; safe from many processes."""
        with self.mapped_errors(), self.dialect.writing() as conn:
            self.dialect.ensure(conn, ddl)

    def migrate(self, tables: Sequence[Table]) -> int:
        """Create or upgrade the schema; the schema version in force."""
        with self.mapped_errors(), self.dialect.writing() as conn:
            return self.dialect.migrate(conn, tables)

    def close(self) -> None:
        self.dialect.close()
