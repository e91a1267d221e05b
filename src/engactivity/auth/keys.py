"""API keys: what one is, how new credentials are made, bearer token format (pure).

A key belongs to one account and has scopes (``read`` for the engactivity query,
``write`` for ingestion). Two kinds:

- ``oauth1``: the four values OAuth 1.0a clients of the reference API are configured
  with (app key, secret, access token, access token secret). The app key is the key's
  id. The server needs both secrets to check signatures, so they are stored sealed
  (see ``secretbox.py``), never in clear.
- ``bearer``: one token ``ea_<id>_<secret>``, sent as ``Authorization: Bearer``. Only
  its SHA-256 is stored: the token holds 256 random bits, so a fast hash is as good as
  a slow one, and the id in front makes the lookup a primary-key read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)
KINDS = ("oauth1", "bearer")

BEARER_PREFIX = "ea_"
_BEARER_RE = re.compile(r"ea_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class KeyArgumentError(ValueError):
    """A key argument (scope list, kind, id) is malformed."""


def parse_scopes(text: str) -> frozenset[str]:
    """``"read,write"`` -> {"read", "write"}; anything else is a KeyArgumentError."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = names - set(SCOPES)
    if not names or unknown:
        raise KeyArgumentError(f"scopes must be read, write or read,write (got {text!r})")
    return frozenset(names)


def format_scopes(scopes: frozenset[str]) -> str:
    return ",".join(s for s in SCOPES if s in scopes)


@dataclass(frozen=True)
class KeyRecord:
    """One stored key, as the key store holds it (no secret in clear)."""

    key_id: str
    account: str
    kind: str
    scopes: frozenset[str]
    created_ms: int
    revoked_ms: int | None = None
    label: str | None = None
    access_token: str | None = None
    """oauth1: the access token (an identifier, sent in every request)."""
    token_hash: bytes | None = None
    """bearer: SHA-256 of the whole token."""
    sealed_secrets: bytes | None = None
    """oauth1: the app secret and access token secret, sealed by the server's master key."""

    @property
    def active(self) -> bool:
        return self.revoked_ms is None

    def listing(self) -> dict[str, object]:
        """What ``keys list`` shows: everything but secrets and hashes."""
        return {
            "keyId": self.key_id,
            "account": self.account,
            "kind": self.kind,
            "scopes": sorted(self.scopes, key=SCOPES.index),
            "label": self.label,
            "createdMs": self.created_ms,
            "revokedMs": self.revoked_ms,
        }


@dataclass(frozen=True)
class OAuth1Secrets:
    app_secret: str
    token_secret: str

    def encode(self) -> bytes:
        return f"{self.app_secret}\n{self.token_secret}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> OAuth1Secrets:
        app_secret, token_secret = raw.decode().split("\n")
        return cls(app_secret, token_secret)


@dataclass(frozen=True)
class NewKey:
    """A key just made: the record to store and the credentials to show once."""

    record: KeyRecord
    credentials: dict[str, object]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def new_bearer(account: str, scopes: frozenset[str], now_ms: int, label: str | None) -> NewKey:
    key_id = secrets.token_hex(8)
    token = f"{BEARER_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = KeyRecord(
        key_id, account, "bearer", scopes, now_ms, label=label, token_hash=hash_token(token)
    )
    return NewKey(record, {**record.listing(), "token": token})


def new_oauth1(
    account: str, scopes: frozenset[str], now_ms: int, label: str | None
) -> tuple[KeyRecord, OAuth1Secrets, dict[str, object]]:
    """A new OAuth 1.0a key: the record (secrets not yet sealed), the secrets, and
    the credentials to show, named as the reference's key screens name them."""
    # 32 hex characters each, like the hosted service's keys: existing client
    # configurations that check lengths keep working.
    key_id = secrets.token_hex(16)
    access_token = secrets.token_hex(16)
    found = OAuth1Secrets(secrets.token_hex(16), secrets.token_hex(16))
    record = KeyRecord(
        key_id, account, "oauth1", scopes, now_ms, label=label, access_token=access_token
    )
    shown = {
        **record.listing(),
        "appKey": key_id,
        "secret": found.app_secret,
        "accessToken": access_token,
        "accessTokenSecret": found.token_secret,
    }
    return record, found, shown


def bearer_id(token: str) -> str | None:
    """The key id inside a well-formed bearer token, else None."""
    match = _BEARER_RE.fullmatch(token)
    return match.group(1) if match else None


def bearer_matches(record: KeyRecord, token: str) -> bool:
    """Constant-time comparison of the token's hash with the stored one."""
    if record.token_hash is None:
        return False
    return hmac.compare_digest(record.token_hash, hash_token(token))
