"""Slowing down failed logins, per user and per client address: table ``login_failure``.

The rule (docs/security.md): every failed login counts one against the user name tried
in that account (whether the user exists or not, in any case of letters) and one
against the client's address. A counter at ``free`` failures or more blocks logins
for ``2^(failures - free)`` seconds after its last failure, at most 15 minutes: the
user name after 5 failures, the address after 20 (an office's users share one).
A blocked login is answered 429 with ``Retry-After`` without looking at the password,
and does not count. A successful login clears its user name's counter (not the
address's, or logging in to one's own account would reset it); a counter is forgotten
an hour after its last failure.

The counters live in the database, so every server process applies the same rule.
They are keyed by a SHA-256 of what they count: the table does not hold the user
names people typed (sometimes a password typed in the wrong field).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from engactivity.auth.authdb import AuthDatabase

FAILURE_TABLE = """
CREATE TABLE IF NOT EXISTS login_failure (
    key_hash {bytes} PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_ms  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failure_by_time ON login_failure (last_ms);
"""
USER_FREE = 5
ADDRESS_FREE = 20
FIRST_BLOCK_MS = 1_000
MAX_BLOCK_MS = 15 * 60_000
FORGET_MS = 60 * 60_000
_PURGE_EVERY_S = 60.0


@dataclass(frozen=True)
class Counter:
    """One thing failures are counted against, and how many are free."""

    key_hash: bytes
    free: int


def user_counter(account: str, login_name: str) -> Counter:
    return Counter(_hash("user", account, login_name.casefold()), USER_FREE)


def address_counter(address: str) -> Counter:
    return Counter(_hash("address", address), ADDRESS_FREE)


def block_ms(failures: int, free: int) -> int:
    """How long logins are blocked after the last of ``failures`` failures."""
    if failures < free:
        return 0
    return min(FIRST_BLOCK_MS << min(failures - free, 30), MAX_BLOCK_MS)


class LoginThrottle:
    def __init__(self, db: AuthDatabase) -> None:
        self._db = db
        self._last_purge = 0.0
        db.ensure(FAILURE_TABLE.format(bytes=db.bytes_type))

    def wait_ms(self, counters: list[Counter], now_ms: int) -> int:
        """How long until a login may be tried; 0: now."""
        free = {c.key_hash: c.free for c in counters}
        marks = ", ".join("?" for _ in counters)
        sql = self._db.sql(
            f"SELECT key_hash, failures, last_ms FROM login_failure WHERE key_hash IN ({marks})"
        )
        rows = self._db.read(lambda conn: conn.execute(sql, tuple(free)).fetchall())
        wait = 0
        for key_hash, failures, last_ms in rows:
            if now_ms - int(last_ms) < FORGET_MS:
                until = int(last_ms) + block_ms(int(failures), free[bytes(key_hash)])
                wait = max(wait, until - now_ms)
        return wait

    def failed(self, counters: list[Counter], now_ms: int) -> None:
        """Count a failed login against each counter."""
        self._purge(now_ms)
        sql = self._db.sql(
            "INSERT INTO login_failure (key_hash, failures, last_ms) VALUES (?, 1, ?) "
            "ON CONFLICT (key_hash) DO UPDATE SET failures = CASE "
            "WHEN login_failure.last_ms <= ? THEN 1 ELSE login_failure.failures + 1 END, "
            "last_ms = excluded.last_ms"
        )
        forgotten = now_ms - FORGET_MS

        def count(conn: Any) -> None:
            for counter in counters:  # always in the same order: no deadlock between two
                conn.execute(sql, (counter.key_hash, now_ms, forgotten))

        self._db.write(count)

    def cleared(self, counter: Counter) -> None:
        sql = self._db.sql("DELETE FROM login_failure WHERE key_hash = ?")
        self._db.write(lambda conn: conn.execute(sql, (counter.key_hash,)))

    def _purge(self, now_ms: int) -> None:
        if time.monotonic() - self._last_purge < _PURGE_EVERY_S:
            return
        self._last_purge = time.monotonic()
        sql = self._db.sql("DELETE FROM login_failure WHERE last_ms <= ?")
        self._db.run(lambda conn: conn.execute(sql, (now_ms - FORGET_MS,)))


def _hash(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogateescape")).digest()
