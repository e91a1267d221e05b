"""What every store engine provides, and the engine-independent parts of ingestion."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engactivity.events import Event
from engactivity.query import Selection
from engactivity.response import Row
from engactivity.timeframe import BUCKET_MS, MINUTE_MS, Span, bucket_of

if TYPE_CHECKING:
    from engactivity.store.memory import FragmentLookup, Reading

MIN_RETENTION_MS = (24 * 60 + 10) * MINUTE_MS
"""24 h 10 min: the longest timeframe plus the bucket rounding, with room to spare."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    expired: int

    def as_json(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "expired": self.expired}


class StoreUnavailable(Exception):
    """The store cannot serve the request right now (the API answers 503)."""


class Store(Protocol):
    """A durable home for rollups and for the ids of events already counted.

    Engines must be safe to call from many threads at once.
    """

    retention_ms: int
    purged_rows: int
    """Rows removed by retention since the store was opened."""

    def submit(self, account_id: str, events: list[Event], now_ms: int) -> Future[IngestResult]:
        """Store one batch atomically; the future resolves once it is durable."""
        ...

    def query(self, account_id: str, span: Span, skills: Selection, agents: Selection) -> list[Row]:
        """Summed rollup rows of ``span`` selected by the filters, grouped by interval.

        With neither filter rows are grouped by interval only (skill -1, no agent);
        with ``agents`` only rows that have an agent are returned.
        """
        ...

    def read(
        self,
        account_id: str,
        span: Span,
        skills: Selection,
        agents: Selection,
        lookup: FragmentLookup | None = None,
    ) -> Reading:
        """What an answer needs (from memory), with the account's data version.

        ``lookup`` may supply intervals already rendered (by interval and stamp).
        """
        ...

    def version(self, account_id: str) -> int:
        """A number that changes whenever the account's data changes."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the store does not answer."""
        ...

    def purge(self, now_ms: int) -> int:
        """Drop data older than the retention; return the number of rows removed."""
        ...

    def close(self) -> None: ...


RollupKey = tuple[int, int, int, int]
"""(bucket, skill id, has agent (0/1), agent id or 0)."""


def retention_cutoff_bucket(now_ms: int, retention_ms: int) -> int:
    """Buckets below this index end at or before ``now - retention`` and may be purged."""
    return bucket_of(now_ms - retention_ms)


def fold_rollups(events: Iterable[Event], into: dict[RollupKey, list[int]]) -> None:
    """Add each event's counters to the rollup row of its bucket, skill and agent.

    Rows are mutable lists: this runs once per ingested event.
    """
    for _, time_ms, skill_id, agent_id, counters in events:
        if agent_id is None:
            key = (time_ms // BUCKET_MS, skill_id, 0, 0)
        else:
            key = (time_ms // BUCKET_MS, skill_id, 1, agent_id)
        row = into.get(key)
        if row is None:
            into[key] = list(counters)
        else:
            row[0] += counters[0]
            row[1] += counters[1]
            row[2] += counters[2]
            row[3] += counters[3]
            row[4] += counters[4]


def add_rollups(deltas: dict[RollupKey, list[int]], into: dict[RollupKey, list[int]]) -> None:
    """Add rollup deltas to ``into``; ``deltas`` is left as it was (rows are copied)."""
    for key, counters in deltas.items():
        row = into.setdefault(key, [0, 0, 0, 0, 0])
        for i, value in enumerate(counters):
            row[i] += value


@dataclass(slots=True)
class PreparedBatch:
    """A batch made ready for the writer by the thread that submits it.

    The writer is the one serial step of ingestion, so per-event Python work is done
    before the batch reaches it: expired events are set aside, and the rollup deltas
    are folded as if no event were a duplicate. Duplicates are rare; when the writer
    finds some, it folds the fresh events again (``fold_rollups``).
    """

    live: list[Event]
    expired: int
    rollups: dict[RollupKey, list[int]]


def prepare_batch(events: list[Event], now_ms: int, retention_ms: int) -> PreparedBatch:
    # Expired: older than the retention; acknowledged but not stored.
    oldest_kept = now_ms - retention_ms
    live = [e for e in events if e.time_ms >= oldest_kept]
    rollups: dict[RollupKey, list[int]] = {}
    fold_rollups(live, rollups)
    return PreparedBatch(live, len(events) - len(live), rollups)
