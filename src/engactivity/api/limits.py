"""Per-account concurrency limit for the query API: over the limit, 429 at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class TooManyRequests(Exception):
    pass


class ConcurrencyLimiter:
    """Counts requests in flight per account.

    Used from the event loop thread only, so plain integers suffice.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: dict[str, int] = {}

    @contextmanager
    def slot(self, account_id: str) -> Iterator[None]:
        current = self._in_flight.get(account_id, 0)
        if current >= self.limit:
            raise TooManyRequests(account_id)
        self._in_flight[account_id] = current + 1
        try:
            yield
        finally:
            remaining = self._in_flight[account_id] - 1
            if remaining:
                self._in_flight[account_id] = remaining
            else:
                del self._in_flight[account_id]
