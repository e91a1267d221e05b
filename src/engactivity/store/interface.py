"""What a store is, to the rest of the service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from engactivity.core.events import Event
from engactivity.core.timeframe import MINUTE_MS, bucket_of
from engactivity.store.memory import AccountState
from engactivity.store.tables import Table

T = TypeVar("T")

MIN_RETENTION_MS = (24 * 60 + 10) * MINUTE_MS
"""24 h 10 min: the longest timeframe plus the bucket rounding, with room to spare."""

DEFAULT_MEMORY_BYTES = 2048 * 1024 * 1024
"""The accounts' rollups a store keeps in memory when not told (settings.py sizes it)."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    expired: int

    def as_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "expired": self.expired}


@dataclass(frozen=True, slots=True)
class TableStats:
    """What the store's tables hold (for /metrics)."""

    rows: int
    """Rows of the bucket tables."""
    newest_bucket: int | None
    oldest_bucket: int | None


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """The accounts a store keeps in memory (for /metrics)."""

    resident: int
    loads: int
    evictions: int
    in_use_bytes: int
    """The estimate the limit is held to (``AccountState.nbytes``)."""
    limit_bytes: int


class StoreUnavailable(Exception):
    """The store cannot serve the request right now (the API answers 503)."""


class Store(Protocol):
    """A durable home for the methods' bucket tables and the ids of events counted.

    Safe to call from many threads at once.
    """

    retention_ms: int
    blocking: bool
    """``version`` may wait for the database: call it off the event loop."""

    @property
    def purged_rows(self) -> int:
        """Rows removed by retention since the store was opened."""
        ...

    def submit(self, account_id: str, events: list[Event], now_ms: int) -> Future[IngestResult]:
        """Store one batch atomically; the future resolves once it is durable and visible."""
        ...

    def memory(self) -> MemoryStats:
        """Accounts in memory, loads and evictions so far, and their memory."""
        ...

    def resident(self, account_id: str) -> bool:
        """Whether the account is in memory (``version`` then needs no load)."""
        ...

    def version(self, account_id: str, tables: Sequence[Table] | None = None) -> int:
        """Bring the account's state up to date; a number that changes whenever it
        changes (with ``tables``: whenever the rows of one of them change)."""
        ...

    def snapshot(self, account_id: str) -> AbstractContextManager[AccountState]:
        """The account's state, unchanged while the block runs (keep the block short)."""
        ...

    def on_applied(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(account_id)`` each time this process has put new data of the
        account in memory (on the store's own thread: keep it short and thread-safe).
        Not called for other processes' writes: watch ``version`` for those."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the store does not answer."""
        ...

    def purge(self, now_ms: int) -> int:
        """Drop data older than the retention now; return the number of rows removed."""
        ...

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn`` with the store's own writing connection in one durable transaction
        (for rare writes beside the events, e.g. configuration): a SQLite store then
        does not take the write for another process's and reload its memory."""
        ...

    def table_stats(self) -> TableStats | None:
        """Row counts and bucket ages, where the engine can tell them cheaply."""
        ...

    def close(self) -> None: ...


def retention_cutoff_bucket(now_ms: int, retention_ms: int) -> int:
    """Buckets below this index end at or before ``now - retention`` and may be purged."""
    return bucket_of(now_ms - retention_ms)
