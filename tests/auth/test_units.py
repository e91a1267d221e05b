"""The pure parts: scopes, key formats, loopback hosts, nonce memory, sealing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engactivity.api.access.install import is_loopback_host
from engactivity.auth.keys import (
    KeyArgumentError,
    OAuth1Secrets,
    bearer_id,
    new_bearer,
    new_oauth1,
    parse_scopes,
)
from engactivity.auth.nonces import NonceCache
from engactivity.auth.secretbox import MasterKeyError, SecretBox, load_master_key


def test_scopes() -> None:
    assert parse_scopes("read") == {"read"}
    assert parse_scopes(" Write , read ") == {"read", "write"}
    for bad in ("", ",", "admin", "read,admin"):
        with pytest.raises(KeyArgumentError):
            parse_scopes(bad)


def test_new_keys_look_like_the_hosted_services() -> None:
    record, found, shown = new_oauth1("1234", frozenset({"read"}), 1, None)
    for name in ("appKey", "secret", "accessToken", "accessTokenSecret"):
        value = shown[name]
        assert isinstance(value, str) and len(value) == 32
        int(value, 16)
    assert OAuth1Secrets.decode(found.encode()) == found
    assert record.sealed_secrets is None and "secret" not in record.listing()
    made = new_bearer("1234", frozenset({"read"}), 1, None)
    assert bearer_id(str(made.credentials["token"])) == made.record.key_id
    assert "token" not in made.record.listing()


@given(st.text(max_size=200))
def test_bearer_id_never_fails(token: str) -> None:
    found = bearer_id(token)
    assert found is None or token.startswith(f"ea_{found}_")


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "example.com", ""):
        assert not is_loopback_host(host), host


def test_nonce_cache_expires_and_stays_bounded() -> None:
    cache = NonceCache(max_remembered=3)
    assert cache.claim("k", "a", 100, 700, 100)
    assert not cache.claim("k", "a", 100, 700, 200)
    assert cache.claim("k", "a", 100, 700, 701)  # expired: the timestamp check refuses it
    for n in "bcd":
        assert cache.claim("k", n, 200, 800, 300)
    # Over the bound, the oldest went early, and its timestamp is refused from then on.
    assert not cache.claim("k", "e", 100, 700, 300)


def test_sealed_secrets_open_only_with_the_key_and_id(tmp_path: Path) -> None:
    box = load_master_key(tmp_path / "m.key", create=True)
    assert box is not None
    assert (tmp_path / "m.key").stat().st_mode & 0o777 == 0o600
    sealed = box.seal(b"secret", "id1")
    assert b"secret" not in sealed
    assert box.open(sealed, "id1") == b"secret"
    assert box.open(sealed, "id2") is None
    assert SecretBox(bytes(32)).open(sealed, "id1") is None
    assert box.open(b"garbage", "id1") is None
    again = load_master_key(tmp_path / "m.key", create=True)
    assert again is not None and again.open(sealed, "id1") == b"secret"
    assert load_master_key(tmp_path / "none.key") is None


def test_master_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGACTIVITY_MASTER_KEY", base64.b64encode(bytes(range(32))).decode())
    box = load_master_key(None)
    assert box is not None and box.open(box.seal(b"x", "i"), "i") == b"x"
    monkeypatch.setenv("ENGACTIVITY_MASTER_KEY", "short")
    with pytest.raises(MasterKeyError):
        load_master_key(None)
