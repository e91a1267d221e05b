"""API keys in the PostgreSQL store's database: tables ``api_key`` and ``api_nonce``.

Every process serving the database reads keys from it at each request, so a
revocation is seen everywhere at the next request. Nonces are claimed with one
``INSERT ... ON CONFLICT DO NOTHING`` in an UNLOGGED table (fast, and a replay window
lost in a database crash only lets old nonces through for at most the timestamp
window), shared by all processes; expired ones are deleted now and then.

Connections: one per thread (the middleware calls this from the thread pool), in
autocommit mode: each statement is its own transaction. A connection the server
dropped (restart, failover) is replaced at the next call, and a read found on one is
retried once on a new connection, so a restart costs no request; while the database
is down every call raises KeyStoreUnavailable (the API answers 503).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from engactivity.auth.keys import KeyRecord
from engactivity.auth.keystore import (
    KEY_COLUMNS,
    KEY_TABLE,
    NONCE_WINDOW_S,
    KeyStoreUnavailable,
    record_values,
    row_to_record,
)

T = TypeVar("T")
Conn = psycopg.Connection[tuple[object, ...]]

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
_CONNECT_TIMEOUT_S = 5
"""A database that does not answer is reported (503) after this, not waited for."""


class PostgresKeyStore:
    blocking = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._all: list[Conn] = []
        self._all_lock = threading.Lock()
        self._last_purge = 0.0
        self._run(self._create_schema, retry=True)

    @staticmethod
    def _create_schema(conn: Conn) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(SCHEMA)

    def _conn(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            fresh = psycopg.connect(self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
            with self._all_lock:
                if conn is not None and conn in self._all:
                    self._all.remove(conn)
                self._all.append(fresh)
            self._local.conn = conn = fresh
        return conn

    def _run(self, fn: Callable[[Conn], T], *, retry: bool) -> T:
        """``fn`` on this thread's connection; driver errors become KeyStoreUnavailable.

        ``retry``: run it again once when the connection turns out broken (the server
        restarted since its last use). Only for statements that may safely run twice:
        a claimed nonce whose acknowledgement was lost would look replayed.
        """
        for attempt in (1, 2):
            conn: Conn | None = None
            try:
                conn = self._conn()
                return fn(conn)
            except psycopg.OperationalError as exc:
                if not (retry and attempt == 1 and conn is not None and conn.broken):
                    raise KeyStoreUnavailable(f"the key store is not available: {exc}") from exc
            except psycopg.Error as exc:
                raise KeyStoreUnavailable(f"the key store is not available: {exc}") from exc
        raise AssertionError("unreachable")

    def add(self, record: KeyRecord) -> None:
        self._run(
            lambda conn: conn.execute(
                f"INSERT INTO api_key ({KEY_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                record_values(record),
            ),
            retry=False,
        )

    def get(self, key_id: str) -> KeyRecord | None:
        row = self._run(
            lambda conn: conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_key WHERE key_id = %s", (key_id,)
            ).fetchone(),
            retry=True,
        )
        return None if row is None else row_to_record(row)

    def list(self, account: str | None = None) -> list[KeyRecord]:
        rows = self._run(
            lambda conn: conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_key "
                "WHERE %(a)s::text IS NULL OR account = %(a)s "
                "ORDER BY account, created_ms, key_id",
                {"a": account},
            ).fetchall(),
            retry=True,
        )
        return [row_to_record(r) for r in rows]

    def revoke(self, key_id: str, now_ms: int) -> KeyRecord | None:
        # Safe to repeat: a second run finds the key revoked and keeps the first time.
        self._run(
            lambda conn: conn.execute(
                "UPDATE api_key SET revoked_ms = %s WHERE key_id = %s AND revoked_ms IS NULL",
                (now_ms, key_id),
            ),
            retry=True,
        )
        return self.get(key_id)

    def any_key(self) -> bool:
        row = self._run(
            lambda conn: conn.execute("SELECT EXISTS (SELECT 1 FROM api_key)").fetchone(),
            retry=True,
        )
        return bool(row and row[0])

    def claim_nonce(self, client_key: str, nonce: str, timestamp: int, now_s: int) -> bool:
        if time.monotonic() - self._last_purge > _PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            self._run(
                lambda conn: conn.execute("DELETE FROM api_nonce WHERE expires_s < %s", (now_s,)),
                retry=True,
            )
        row = self._run(
            lambda conn: conn.execute(
                "INSERT INTO api_nonce (client_key, nonce, ts, expires_s) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (client_key, nonce, timestamp, timestamp + NONCE_WINDOW_S),
            ).fetchone(),
            retry=False,
        )
        return row is not None

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
