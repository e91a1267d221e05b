"""Sealing OAuth 1.0a secrets with the server's master key (AES-256-GCM).

OAuth 1.0a signatures are HMACs keyed by the shared secrets, so the server must be
able to read them: they cannot be hashed like bearer tokens. They are encrypted with a
32-byte master key that lives outside the database: a copy of the database (a backup,
a leaked dump) does not reveal them. The key id is bound as associated data, so a
sealed value moved to another key's row does not open.

The master key comes from ``ENGACTIVITY_MASTER_KEY`` (base64) or a key file
(``--master-key-file``). For a SQLite store the file defaults to ``<database>.key``
beside the database, created with mode 0600 by the first ``keys create --kind oauth1``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engactivity.store.url import StoreURLError, parse_store_url

MASTER_KEY_ENV = "ENGACTIVITY_MASTER_KEY"
_NONCE_BYTES = 12
_VERSION = b"\x01"


class MasterKeyError(Exception):
    """No usable master key: missing, unreadable or malformed."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plain: bytes, key_id: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plain, key_id.encode())

    def open(self, sealed: bytes, key_id: str) -> bytes | None:
        """The plain text, or None when ``sealed`` was not made by this key for this id."""
        if len(sealed) < 1 + _NONCE_BYTES or sealed[:1] != _VERSION:
            return None
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], key_id.encode())
        except InvalidTag:
            return None


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError(f"{where} is not base64") from exc
    if len(key) != 32:
        raise MasterKeyError(f"{where} must hold 32 bytes in base64 (44 characters)")
    return key


def load_master_key(key_file: Path | None, create: bool = False) -> SecretBox | None:
    """The box for the configured master key; None when none is configured or found.

    ``create``: write a new random key to ``key_file`` when it does not exist yet
    (mode 0600, never overwritten).
    """
    from_env = os.environ.get(MASTER_KEY_ENV)
    if from_env:
        return SecretBox(_decode(from_env, MASTER_KEY_ENV))
    if key_file is None:
        return None
    if not key_file.exists():
        if not create:
            return None
        key_file.parent.mkdir(parents=True, exist_ok=True)
        text = base64.b64encode(secrets.token_bytes(32)).decode() + "\n"
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
    try:
        text = key_file.read_text()
    except OSError as exc:
        raise MasterKeyError(f"cannot read the master key file {key_file}: {exc}") from exc
    return SecretBox(_decode(text, str(key_file)))


def default_key_file(store_url: str) -> Path | None:
    """``<database>.key`` for a SQLite store; none for PostgreSQL (configure it)."""
    try:
        where = parse_store_url(store_url)
    except StoreURLError:
        return None
    return Path(f"{where.path}.key") if where.engine == "sqlite" else None


class MasterKey:
    """The master key of a server, read when first needed.

    A server may start before the first OAuth 1.0a key (and so the key file) exists:
    until it is found, each OAuth 1.0a request looks for it again.
    """

    def __init__(self, key_file: Path | None) -> None:
        self.key_file = key_file
        self._box: SecretBox | None = None

    def box(self) -> SecretBox | None:
        if self._box is None:
            self._box = load_master_key(self.key_file)
        return self._box
