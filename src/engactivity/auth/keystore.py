"""Where keys live: table ``api_key`` in the store's own database.

Keys live beside the events, so every process serving one store sees the same keys,
and a revocation is seen by every process at its next request: each request reads
its key by primary key, nothing is cached. The key store reaches the database through
the store's ``Database`` (its connections, its dialect, its error mapping), as every
table of credentials does (``authdb.py``).

Reads are primary-key lookups. On SQLite they take tens of microseconds and are done
on the event loop (``blocking`` is False); a file locked by something else (a restore)
is given up on after half a second, so no request stalls on it. On PostgreSQL they are
round trips, made off the event loop. Every failure to read or write keys raises
KeyStoreUnavailable: the API answers 503, never 401 ("we could not check the key" is
not "the key is wrong").

OAuth 1.0a nonces: a shared database keeps them in an UNLOGGED table, claimed with one
``INSERT ... ON CONFLICT DO NOTHING`` (a replay window lost in a database crash only
lets old nonces through for at most the timestamp window); expired ones are deleted
now and then. A SQLite store, served by one process, remembers them in memory.
"""

from __future__ import annotations

import time
from typing import Any

from engactivity.auth.authdb import AuthDatabase
from engactivity.auth.authdb import KeyStoreUnavailable as KeyStoreUnavailable
from engactivity.auth.keys import KeyRecord, format_scopes
from engactivity.auth.nonces import NonceCache
from engactivity.store import Database, StoreUnavailable, open_database

NONCE_WINDOW_S = 600
"""Accepted clock difference of OAuth 1.0a timestamps, each way (oauthlib's default)."""

_NONCE_PURGE_EVERY_S = 60.0

KEY_TABLE = """
CREATE TABLE IF NOT EXISTS api_key (
    key_id         TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    revoked_ms     BIGINT,
    label          TEXT,
    access_token   TEXT,
    token_hash     {bytes},
    sealed_secrets {bytes}
);
"""
NONCE_TABLE = """
CREATE UNLOGGED TABLE IF NOT EXISTS api_nonce (
    client_key TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    expires_s  BIGINT NOT NULL,
    PRIMARY KEY (client_key, nonce, ts)
);
CREATE INDEX IF NOT EXISTS api_nonce_by_expiry ON api_nonce (expires_s);
"""
KEY_COLUMNS = (
    "key_id, account, kind, scopes, created_ms, revoked_ms, label, "
    "access_token, token_hash, sealed_secrets"
)


class KeyStore:
    def __init__(self, db: Database, *, owns_database: bool = False) -> None:
        self._db = AuthDatabase(db, owned=owns_database)
        self.blocking = self._db.blocking
        """True when a lookup is a network round trip: call it off the event loop."""
        self._nonces = None if self._db.shared else NonceCache()
        self._last_purge = 0.0
        self._db.ensure(KEY_TABLE.format(bytes=self._db.bytes_type))
        if self._db.shared:
            self._db.ensure(NONCE_TABLE)

    def add(self, record: KeyRecord) -> None:
        sql = self._db.sql(
            f"INSERT INTO api_key ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._db.write(lambda conn: conn.execute(sql, _values(record)))

    def get(self, key_id: str) -> KeyRecord | None:
        sql = self._db.sql(f"SELECT {KEY_COLUMNS} FROM api_key WHERE key_id = ?")
        row = self._db.read(lambda conn: conn.execute(sql, (key_id,)).fetchone())
        return None if row is None else _record(row)

    def list(self, account: str | None = None) -> list[KeyRecord]:
        where = "" if account is None else "WHERE account = ? "
        sql = self._db.sql(
            f"SELECT {KEY_COLUMNS} FROM api_key {where}ORDER BY account, created_ms, key_id"
        )
        params = () if account is None else (account,)
        rows = self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [_record(r) for r in rows]

    def revoke(self, key_id: str, now_ms: int) -> KeyRecord | None:
        """Mark the key revoked (once; a second revoke keeps the first time)."""
        sql = self._db.sql(
            "UPDATE api_key SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL"
        )
        self._db.write(lambda conn: conn.execute(sql, (now_ms, key_id)))
        return self.get(key_id)

    def any_key(self) -> bool:
        """Whether a key was ever created (revoked ones count)."""
        row = self._db.read(lambda conn: conn.execute("SELECT 1 FROM api_key LIMIT 1").fetchone())
        return row is not None

    def claim_nonce(self, client_key: str, nonce: str, timestamp: int, now_s: int) -> bool:
        """True the first time this nonce is used by this client at this timestamp."""
        expires = timestamp + NONCE_WINDOW_S
        if self._nonces is not None:
            return self._nonces.claim(client_key, nonce, timestamp, expires, now_s)
        sql = self._db.sql
        if time.monotonic() - self._last_purge > _NONCE_PURGE_EVERY_S:
            self._last_purge = time.monotonic()
            self._db.run(
                lambda conn: conn.execute(
                    sql("DELETE FROM api_nonce WHERE expires_s < ?"), (now_s,)
                )
            )
        # Not retried: a claim whose acknowledgement was lost would look replayed.
        row = self._db.run(
            lambda conn: conn.execute(
                sql(
                    "INSERT INTO api_nonce (client_key, nonce, ts, expires_s) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1"
                ),
                (client_key, nonce, timestamp, expires),
            ).fetchone()
        )
        return row is not None

    def close(self) -> None:
        self._db.close()


def open_keystore(url: str) -> KeyStore:
    """The key store of the store ``url`` names, on a database of its own."""
    try:
        db = open_database(url)
    except StoreUnavailable as exc:
        raise KeyStoreUnavailable(f"the key store cannot be opened: {exc}") from exc
    return KeyStore(db, owns_database=True)


def _values(record: KeyRecord) -> tuple[object, ...]:
    return (
        record.key_id,
        record.account,
        record.kind,
        format_scopes(record.scopes),
        record.created_ms,
        record.revoked_ms,
        record.label,
        record.access_token,
        record.token_hash,
        record.sealed_secrets,
    )


def _record(row: tuple[Any, ...]) -> KeyRecord:
    (key_id, account, kind, scopes, created, revoked, label, token, token_hash, sealed) = row
    return KeyRecord(
        key_id=str(key_id),
        account=str(account),
        kind=str(kind),
        scopes=frozenset(str(scopes).split(",")),
        created_ms=int(created),
        revoked_ms=None if revoked is None else int(revoked),
        label=None if label is None else str(label),
        access_token=None if token is None else str(token),
        token_hash=None if token_hash is None else bytes(token_hash),
        sealed_secrets=None if sealed is None else bytes(sealed),
    )
