"""API keys in the PostgreSQL store's database: tables ``api_key`` and ``api_nonce``.

Every process serving the database reads keys from it at each request, so a
revocation is seen everywhere at the next request. Nonces are claimed with one
``INSERT ... ON CONFLICT DO NOTHING`` in an UNLOGGED table (fast, and a replay window
lost in a database crash only lets old nonces through for at most the timestamp
window), shared by all processes; expired ones are deleted now and then.

Connections: one per thread (the middleware calls this from the thread pool), in
autocommit mode: each statement is its own transaction.
"""

from __future__ import annotations

import threading
import time

import psycopg

from engactivity.auth.keys import KeyRecord
from engactivity.auth.keystore import (
    KEY_COLUMNS,
    KEY_TABLE,
    NONCE_WINDOW_S,
    record_values,
    row_to_record,
)

SCHEMA = (
    KEY_TABLE.format(int="BIGINT", bytes="BYTEA")
    + """CREATE UNLOGGED TABLE IF NOT EXISTS api_nonce (
    client_key TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    expires_s  BIGINT NOT NULL,
    PRIMARY KEY (client_key, nonce, ts)
);
CREATE INDEX IF NOT EXISTS api_nonce_by_expiry ON api_nonce (expires_s);
"""
)

_PURGE_EVERY_S = 60.0
_SCHEMA_LOCK = 7_311_405_001
"""Advisory lock id serializing schema creation between processes starting together."""


class PostgresKeyStore:
    blocking = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._all: list[psycopg.Connection[tuple[object, ...]]] = []
        self._all_lock = threading.Lock()
        self._last_purge = 0.0
        conn = self._conn()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(SCHEMA)

    def _conn(self) -> psycopg.Connection[tuple[object, ...]]:
        conn: psycopg.Connection[tuple[object, ...]] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.url, autocommit=True)
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def add(self, record: KeyRecord) -> None:
        self._conn().execute(
            f"INSERT INTO api_key ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            record_values(record),
        )

    def get(self, key_id: str) -> KeyRecord | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {KEY_COLUMNS} FROM api_key WHERE key_id = %s",
                (key_id,),
            )
            .fetchone()
        )
        return None if row is None else row_to_record(row)

    def list(self, account: str | None = None) -> list[KeyRecord]:
        rows = (
            self._conn()
            .execute(
                f"SELECT {KEY_COLUMNS} FROM api_key "
                "WHERE %(a)s::text IS NULL OR account = %(a)s "
                "ORDER BY account, created_ms, key_id",
                {"a": account},
            )
            .fetchall()
        )
        return [row_to_record(r) for r in rows]

    def revoke(self, key_id: str, now_ms: int) -> KeyRecord | None:
        self._conn().execute(
            "UPDATE api_key SET revoked_ms = %s WHERE key_id = %s AND revoked_ms IS NULL",
            (now_ms, key_id),
        )
        return self.get(key_id)

    def any_key(self) -> bool:
        row = self._conn().execute("SELECT EXISTS (SELECT 1 FROM api_key)").fetchone()
        return bool(row and row[0])

    def claim_nonce(self, client_key: str, nonce: str, timestamp: int, now_s: int) -> bool:
        conn = self._conn()
        if time.monotonic() - self._last_purge > _PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            conn.execute("DELETE FROM api_nonce WHERE expires_s < %s", (now_s,))
        row = conn.execute(
            "INSERT INTO api_nonce (client_key, nonce, ts, expires_s) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (client_key, nonce, timestamp, timestamp + NONCE_WINDOW_S),
        ).fetchone()
        return row is not None

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
