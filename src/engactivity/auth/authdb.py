"""How the authentication tables (keys, users, sessions, failed logins) reach the database.

Through the store's ``Database`` (its connections, dialect and error mapping), with one
difference: every failure to read or write them is KeyStoreUnavailable. The API answers
it with 503, never 401: "we could not check the credentials" is not "the credentials
are wrong".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from engactivity.store import Database, StoreUnavailable

T = TypeVar("T")


class KeyStoreUnavailable(StoreUnavailable):
    """The credentials' tables did not answer (database down, file locked): 503.

    A subclass of StoreUnavailable, so one that escapes anywhere still gets the 503.
    """


class AuthDatabase:
    """A ``Database`` whose failures are KeyStoreUnavailable; ``owned``: closed with it."""

    def __init__(self, db: Database, *, owned: bool = False) -> None:
        self.db = db
        self.owned = owned
        self.sql = db.sql
        self.bytes_type = db.dialect.bytes_type
        self.shared = db.dialect.shared
        """Other processes use the same tables (PostgreSQL)."""
        self.blocking = db.dialect.blocking
        """Reads are network round trips: keep them off the event loop."""

    @contextmanager
    def unavailable(self, what: str) -> Iterator[None]:
        """Failures inside the block become KeyStoreUnavailable saying what failed."""
        try:
            yield
        except KeyStoreUnavailable:
            raise
        except StoreUnavailable as exc:
            raise KeyStoreUnavailable(f"the key store could not be {what}: {exc}") from exc

    def ensure(self, ddl: str) -> None:
        with self.unavailable("created"):
            self.db.ensure(ddl)

    def read(self, fn: Callable[[Any], T]) -> T:
        try:  # not a context manager: this runs on every request
            return self.db.read(fn)
        except KeyStoreUnavailable:
            raise
        except StoreUnavailable as exc:
            raise KeyStoreUnavailable(f"the key store could not be read: {exc}") from exc

    def write(self, fn: Callable[[Any], T]) -> T:
        """``fn`` in one write transaction."""
        with self.unavailable("written"):
            return self.db.write(fn)

    def run(self, fn: Callable[[Any], T]) -> T:
        """``fn`` on a writing connection, each statement its own transaction."""
        with self.unavailable("written"):
            return self.db.run(fn)

    def close(self) -> None:
        if self.owned:
            self.db.close()
