"""API keys in the SQLite store's file: table ``api_key``, own connection.

Key writes are rare (create, revoke): a short write transaction that waits for the
event writer through busy_timeout. Reads are a primary-key lookup, tens of
microseconds, done on the event loop, so they wait for a locked file only briefly:
past that, and on any other SQLite error, they raise KeyStoreUnavailable (the API
answers 503) instead of stalling every request. Nonces are remembered in this
process's memory (the SQLite engine serves from one process).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from engactivity.auth.keys import KeyRecord
from engactivity.auth.keystore import (
    KEY_COLUMNS,
    KEY_TABLE,
    NONCE_WINDOW_S,
    KeyStoreUnavailable,
    record_values,
    row_to_record,
)
from engactivity.auth.nonces import NonceCache

SCHEMA = KEY_TABLE.format(int="INTEGER", bytes="BLOB")

_READ_BUSY_MS = 500
"""In WAL mode readers are not blocked by the event writer; a file locked this long is
being restored or is broken, and the event loop must not wait for it."""
_WRITE_BUSY_MS = 30_000
"""Writers queue behind the event writer's transactions (engactivity keys, start-up)."""

T = TypeVar("T")


class SQLiteKeyStore:
    blocking = False

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._nonces = NonceCache()
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=_READ_BUSY_MS / 1000
            )
        except sqlite3.Error as exc:
            raise KeyStoreUnavailable(f"the key store cannot be opened: {exc}") from exc
        self._write(self._create_schema)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise KeyStoreUnavailable(f"the key store could not be read: {exc}") from exc

    def _write(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        with self._lock:
            try:
                self._conn.execute(f"PRAGMA busy_timeout={_WRITE_BUSY_MS}")
                try:
                    fn(self._conn)
                finally:
                    self._conn.execute(f"PRAGMA busy_timeout={_READ_BUSY_MS}")
            except sqlite3.Error as exc:
                raise KeyStoreUnavailable(f"the key store could not be written: {exc}") from exc

    def add(self, record: KeyRecord) -> None:
        self._write(
            lambda conn: conn.execute(
                f"INSERT INTO api_key ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                record_values(record),
            )
        )

    def get(self, key_id: str) -> KeyRecord | None:
        row = self._read(
            lambda conn: conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_key WHERE key_id = ?", (key_id,)
            ).fetchone()
        )
        return None if row is None else row_to_record(row)

    def list(self, account: str | None = None) -> list[KeyRecord]:
        rows = self._read(
            lambda conn: conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_key WHERE ?1 IS NULL OR account = ?1 "
                "ORDER BY account, created_ms, key_id",
                (account,),
            ).fetchall()
        )
        return [row_to_record(r) for r in rows]

    def revoke(self, key_id: str, now_ms: int) -> KeyRecord | None:
        self._write(
            lambda conn: conn.execute(
                "UPDATE api_key SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL",
                (now_ms, key_id),
            )
        )
        return self.get(key_id)

    def any_key(self) -> bool:
        row = self._read(
            lambda conn: conn.execute("SELECT EXISTS (SELECT 1 FROM api_key)").fetchone()
        )
        return bool(row[0])

    def claim_nonce(self, client_key: str, nonce: str, timestamp: int, now_s: int) -> bool:
        return self._nonces.claim(client_key, nonce, timestamp, timestamp + NONCE_WINDOW_S, now_s)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
