"""Where keys live: the interface, and choosing an engine from the store URL.

Keys live in the same database as the events (their own tables), so every process
serving one store sees the same keys, and a revocation is seen by every process at
its next request: each request reads its key by primary key, nothing is cached.
"""

from __future__ import annotations

from typing import Protocol

from engactivity.auth.keys import KeyRecord
from engactivity.store import StoreUnavailable


class KeyStoreUnavailable(StoreUnavailable):
    """The key store did not answer (database down, file locked): the API answers 503.

    Engines raise it instead of their driver's errors, so the middleware can tell "we
    could not check the key" (503, retry) from "the key is wrong" (401). A subclass of
    StoreUnavailable, so one that escapes anywhere still gets the API's 503.
    """


class KeyStore(Protocol):
    blocking: bool
    """True when a lookup is a network round trip: call it off the event loop."""

    # Every method raises KeyStoreUnavailable when the keys cannot be read or written.

    def add(self, record: KeyRecord) -> None: ...

    def get(self, key_id: str) -> KeyRecord | None: ...

    def list(self, account: str | None = None) -> list[KeyRecord]: ...

    def revoke(self, key_id: str, now_ms: int) -> KeyRecord | None:
        """Mark the key revoked (once; a second revoke keeps the first time)."""
        ...

    def any_key(self) -> bool:
        """Whether a key was ever created (revoked ones count)."""
        ...

    def claim_nonce(self, client_key: str, nonce: str, timestamp: int, now_s: int) -> bool:
        """True the first time this nonce is used by this client at this timestamp."""
        ...

    def close(self) -> None: ...


NONCE_WINDOW_S = 600
"""Accepted clock difference of OAuth 1.0a timestamps, each way (oauthlib's default)."""


def open_keystore(url: str) -> KeyStore:
    if url.startswith("sqlite:///"):
        from engactivity.auth.keystore_sqlite import SQLiteKeyStore

        return SQLiteKeyStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from engactivity.auth.keystore_postgres import PostgresKeyStore

        return PostgresKeyStore(url)
    raise ValueError("unsupported store URL: use sqlite:///path.db or postgresql://...")


def row_to_record(row: tuple[object, ...]) -> KeyRecord:
    """One row of ``SELECT {KEY_COLUMNS}`` as a record (both engines)."""
    (key_id, account, kind, scopes, created, revoked, label, token, token_hash, sealed) = row
    return KeyRecord(
        key_id=str(key_id),
        account=str(account),
        kind=str(kind),
        scopes=frozenset(str(scopes).split(",")),
        created_ms=int(created),  # type: ignore[call-overload]
        revoked_ms=None if revoked is None else int(revoked),  # type: ignore[call-overload]
        label=None if label is None else str(label),
        access_token=None if token is None else str(token),
        token_hash=None if token_hash is None else bytes(token_hash),  # type: ignore[call-overload]
        sealed_secrets=None if sealed is None else bytes(sealed),  # type: ignore[call-overload]
    )


KEY_TABLE = """
CREATE TABLE IF NOT EXISTS api_key (
    key_id         TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    created_ms     {int} NOT NULL,
    revoked_ms     {int},
    label          TEXT,
    access_token   TEXT,
    token_hash     {bytes},
    sealed_secrets {bytes}
);
"""
"""The key table of both engines; ``{int}`` and ``{bytes}`` are their type names."""

KEY_COLUMNS = (
    "key_id, account, kind, scopes, created_ms, revoked_ms, label, "
    "access_token, token_hash, sealed_secrets"
)


def record_values(record: KeyRecord) -> tuple[object, ...]:
    from engactivity.auth.keys import format_scopes

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
