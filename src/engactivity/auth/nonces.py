"""OAuth 1.0a nonces seen recently, in this process's memory.

A nonce is remembered until its timestamp leaves the accepted window; a request
reusing one within that time is a replay. The SQLite engine serves from one process,
so memory is enough there; the PostgreSQL key store keeps nonces in the database so
that every process sees them.
"""

from __future__ import annotations

import threading
from collections import deque

MAX_REMEMBERED = 1_000_000
"""Bound on memory (about 200 MB at worst); beyond it the oldest are forgotten early,
and their timestamps are refused as if they had left the window."""


class NonceCache:
    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self._seen: set[tuple[str, str, int]] = set()
        self._order: deque[tuple[int, tuple[str, str, int]]] = deque()
        self._max = max_remembered
        self._floor_s = 0
        """Timestamps at or below this were forgotten early: refuse them."""
        self._lock = threading.Lock()

    def claim(
        self, client_key: str, nonce: str, timestamp: int, expires_s: int, now_s: int
    ) -> bool:
        """True the first time (client_key, nonce, timestamp) is seen before it expires."""
        entry = (client_key, nonce, timestamp)
        with self._lock:
            while self._order and self._order[0][0] <= now_s:
                self._seen.discard(self._order.popleft()[1])
            if timestamp <= self._floor_s or entry in self._seen:
                return False
            while len(self._order) >= self._max:
                _, old = self._order.popleft()
                self._seen.discard(old)
                self._floor_s = max(self._floor_s, old[2])
            self._seen.add(entry)
            self._order.append((expires_s, entry))
            return True
