"""Passwords as slow salted hashes: the standard library's scrypt (RFC 7914).

A stored hash reads ``scrypt$ln=15,r=8,p=1$<salt>$<hash>`` (base64): the parameters
travel with each hash, so they can be raised later without breaking the passwords
already set. N = 2^15 and r = 8 take 32 MiB and about a tenth of a second per check,
which makes guessing from a stolen database slow while a login stays quick.

Passwords are normalised to Unicode NFC first, so the same password typed on systems
that compose accents differently is the same password. The check compares in
constant time. ``verify_dummy`` does the same work against a hash of nothing, for
user names that do not exist: the answer and its time do not say whether a user does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import unicodedata

SCHEME = "scrypt"
LOG2_N = 15
BLOCK_SIZE = 8
PARALLEL = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024
"""Characters of a password; the maximum keeps one check's work bounded."""


class PasswordError(ValueError):
    """A new password is not acceptable (too short, too long)."""


def check_new_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordError(
            f"a password must have {MIN_LENGTH} to {MAX_LENGTH} characters (got {len(password)})"
        )


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int, size: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        unicodedata.normalize("NFC", password).encode("utf-8", "surrogateescape"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * n * p + (1 << 20),  # what scrypt needs, with room
        dklen=size,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """The string to store for ``password``, with a new random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    derived = _derive(password, salt, LOG2_N, BLOCK_SIZE, PARALLEL, HASH_BYTES)
    params = f"ln={LOG2_N},r={BLOCK_SIZE},p={PARALLEL}"
    return f"{SCHEME}${params}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time compare)."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    log2_n, r, p, salt, expected = parsed
    derived = _derive(password, salt, log2_n, r, p, len(expected))
    return hmac.compare_digest(derived, expected)


@functools.cache
def _dummy() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_dummy(password: str) -> bool:
    """The work of ``verify_password`` for a user that does not exist; always False."""
    verify_password(password, _dummy())
    return False


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, params, salt, derived = stored.split("$")
        values = dict(part.split("=", 1) for part in params.split(","))
        log2_n, r, p = int(values["ln"]), int(values["r"]), int(values["p"])
        raw_salt = base64.b64decode(salt, validate=True)
        raw_hash = base64.b64decode(derived, validate=True)
    except (ValueError, KeyError, binascii.Error):
        return None
    if scheme != SCHEME or not (1 <= log2_n <= 24 and 1 <= r <= 64 and 1 <= p <= 16):
        return None
    return log2_n, r, p, raw_salt, raw_hash
