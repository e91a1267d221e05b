"""The key stores on real databases: a SQLite file, and a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from engactivity.auth.keys import READ, WRITE, bearer_id, bearer_matches, new_bearer, parse_scopes
from engactivity.auth.keystore import KeyStore, open_keystore

PG_URL = os.environ.get(
    "ENGACTIVITY_TEST_PG_URL",
    "postgresql://engactivity:engactivity@127.0.0.1:5432/engactivity_test",
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server (scripts/start-test-postgres)."""
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no PostgreSQL for the tests at {PG_URL}: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_URL} (run scripts/start-test-postgres)")
    name = f"keys_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def test_add_get_list_revoke(store_url: str) -> None:
    keys: KeyStore = open_keystore(store_url)
    try:
        assert not keys.any_key()
        made = new_bearer("1234", parse_scopes("read,write"), 1000, "ci")
        keys.add(made.record)
        other = new_bearer("5678", frozenset({READ}), 2000, None)
        keys.add(other.record)
        assert keys.any_key()
        got = keys.get(made.record.key_id)
        assert got == made.record
        token = str(made.credentials["token"])
        assert bearer_id(token) == made.record.key_id
        assert bearer_matches(got, token)
        assert not bearer_matches(got, token[:-1] + ("A" if token[-1] != "A" else "B"))
        assert [r.key_id for r in keys.list()] == [made.record.key_id, other.record.key_id]
        assert [r.account for r in keys.list("5678")] == ["5678"]
        revoked = keys.revoke(made.record.key_id, 3000)
        assert revoked is not None and revoked.revoked_ms == 3000
        again = keys.revoke(made.record.key_id, 4000)
        assert again is not None and again.revoked_ms == 3000  # the first time stays
        assert keys.revoke("0" * 16, 5000) is None
        assert keys.get("nope") is None
        assert keys.any_key()  # revoked keys still count
        assert got.scopes == {READ, WRITE}
    finally:
        keys.close()


def test_revocation_is_seen_by_another_connection_at_once(store_url: str) -> None:
    """Two key stores on one database stand for two server processes."""
    first, second = open_keystore(store_url), open_keystore(store_url)
    try:
        made = new_bearer("1234", frozenset({READ}), 1000, None)
        first.add(made.record)
        assert second.any_key()
        seen = second.get(made.record.key_id)
        assert seen is not None and seen.active
        first.revoke(made.record.key_id, 2000)
        seen = second.get(made.record.key_id)
        assert seen is not None and not seen.active
    finally:
        first.close()
        second.close()


def test_a_nonce_is_claimed_once(store_url: str) -> None:
    keys = open_keystore(store_url)
    try:
        assert keys.claim_nonce("k", "n1", 1000, 1000)
        assert not keys.claim_nonce("k", "n1", 1000, 1001)
        assert keys.claim_nonce("k", "n1", 1001, 1001)  # another timestamp
        assert keys.claim_nonce("other", "n1", 1000, 1001)  # another client
    finally:
        keys.close()


def test_postgres_nonces_are_shared_between_processes(pg_url: str) -> None:
    first, second = open_keystore(pg_url), open_keystore(pg_url)
    try:
        assert first.claim_nonce("k", "shared", 1000, 1000)
        assert not second.claim_nonce("k", "shared", 1000, 1000)
    finally:
        first.close()
        second.close()
