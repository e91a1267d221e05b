"""Bucket and interval arithmetic (SEMANTICS.md sections 2 to 4). Pure functions.

Bucket ``k`` holds events with ``k*B <= time < (k+1)*B``. A request covers whole
buckets ``first..last``; intervals are cut backwards from the end of the last
bucket, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000
BUCKET_MS = 5 * MINUTE_MS
MAX_TIMEFRAME_MIN = 1440


def bucket_of(time_ms: int) -> int:
    """Index of the bucket that contains ``time_ms``."""
    return time_ms // BUCKET_MS


def ceil_to_bucket(ms: int) -> int:
    return -(-ms // BUCKET_MS) * BUCKET_MS


@dataclass(frozen=True, slots=True)
class Span:
    """The buckets one request reads, and how they fall into intervals."""

    first: int
    """Index of the first (oldest) bucket."""
    last: int
    """Index of the last bucket: the one containing ``now``."""
    interval_ms: int | None
    """Interval length, or None when the request asked for no intervals."""

    @property
    def end_ms(self) -> int:
        """E0: the end of the last bucket, the newest interval's timestamp."""
        return (self.last + 1) * BUCKET_MS

    def interval_of(self, bucket: int) -> int:
        """Index k (0 = newest) of the interval holding ``bucket``; 0 without intervals.

        Interval k holds the buckets starting in [E0-(k+1)*I, E0-k*I) once both ends
        are rounded up to a bucket boundary; for a bucket start s that is the k with
        k*I < E0-s <= (k+1)*I.
        """
        if self.interval_ms is None:
            return 0
        return (self.end_ms - bucket * BUCKET_MS - 1) // self.interval_ms

    @property
    def interval_count(self) -> int:
        return self.interval_of(self.first) + 1

    def interval_end(self, k: int) -> int:
        """Ek, the timestamp of interval k: its end, rounded up to a bucket boundary."""
        if self.interval_ms is None:
            return self.end_ms
        return ceil_to_bucket(self.end_ms - k * self.interval_ms)


def span_for(now_ms: int, timeframe_min: int, interval_min: int | None = None) -> Span:
    """The span of a request arriving at ``now_ms`` (parameters already validated)."""
    last = bucket_of(now_ms)
    first = bucket_of(now_ms - timeframe_min * MINUTE_MS)
    interval_ms = None if interval_min is None else interval_min * MINUTE_MS
    return Span(first=first, last=last, interval_ms=interval_ms)
