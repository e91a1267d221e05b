"""API keys in the SQLite store's file: table ``api_key``, own connection.

Key writes are rare (create, revoke): a short write transaction that waits for the
event writer through busy_timeout. Reads are a primary-key lookup, tens of
microseconds, done on the event loop. Nonces are remembered in this process's memory
(the SQLite engine serves from one process).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from engactivity.auth.keys import KeyRecord
from engactivity.auth.keystore import (
    KEY_COLUMNS,
    KEY_TABLE,
    NONCE_WINDOW_S,
    record_values,
    row_to_record,
)
from engactivity.auth.nonces import NonceCache

SCHEMA = KEY_TABLE.format(int="INTEGER", bytes="BLOB")


class SQLiteKeyStore:
    blocking = False

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._nonces = NonceCache()

    def add(self, record: KeyRecord) -> None:
        with self._lock:
            self._conn.execute(
                f"INSERT INTO api_key ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                record_values(record),
            )

    def get(self, key_id: str) -> KeyRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_key WHERE key_id = ?", (key_id,)
            ).fetchone()
        return None if row is None else row_to_record(row)

    def list(self, account: str | None = None) -> list[KeyRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_key WHERE ?1 IS NULL OR account = ?1 "
                "ORDER BY account, created_ms, key_id",
                (account,),
            ).fetchall()
        return [row_to_record(r) for r in rows]

    def revoke(self, key_id: str, now_ms: int) -> KeyRecord | None:
        with self._lock:
            self._conn.execute(
                "UPDATE api_key SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL",
                (now_ms, key_id),
            )
        return self.get(key_id)

    def any_key(self) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT EXISTS (SELECT 1 FROM api_key)").fetchone()
        return bool(row[0])

    def claim_nonce(self, client_key: str, nonce: str, timestamp: int, now_s: int) -> bool:
        return self._nonces.claim(client_key, nonce, timestamp, timestamp + NONCE_WINDOW_S, now_s)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
