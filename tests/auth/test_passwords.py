"""The password hashes and the back-off rule, as functions (the HTTP behaviour is in
test_login.py)."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from engactivity.auth.passwords import (
    PasswordError,
    check_new_password,
    hash_password,
    verify_dummy,
    verify_password,
)
from engactivity.auth.throttle import (
    ADDRESS_FREE,
    MAX_BLOCK_MS,
    USER_FREE,
    address_counter,
    block_ms,
    user_counter,
)


def test_a_hash_is_salted_scrypt_with_its_parameters() -> None:
    first, second = hash_password("a password"), hash_password("a password")
    assert first != second  # a new salt each time
    scheme, params, salt, derived = first.split("$")
    assert (scheme, params) == ("scrypt", "ln=15,r=8,p=1")
    import base64

    raw_salt = base64.b64decode(salt)
    expected = hashlib.scrypt(
        b"a password", salt=raw_salt, n=2**15, r=8, p=1, maxmem=80 * 2**20, dklen=32
    )
    assert base64.b64decode(derived) == expected  # the standard algorithm, nothing else
    assert verify_password("a password", first) and verify_password("a password", second)
    assert not verify_password("a Password", first)
    assert not verify_password("", first)


def test_other_parameters_stored_with_a_hash_are_used() -> None:
    import base64

    salt = b"0123456789abcdef"
    derived = hashlib.scrypt(b"pw", salt=salt, n=2**10, r=4, p=2, dklen=16)
    encoded = [base64.b64encode(raw).decode() for raw in (salt, derived)]
    stored = "$".join(["scrypt", "ln=10,r=4,p=2", *encoded])
    assert verify_password("pw", stored)
    assert not verify_password("pw2", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$ln=15$x$y",
        "bcrypt$ln=15,r=8,p=1$AAAA$AAAA",
        "scrypt$ln=40,r=8,p=1$AA$AA",
    ],
)
def test_malformed_hashes_never_match(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_composed_and_decomposed_accents_are_the_same_password() -> None:
    composed = unicodedata.normalize("NFC", "café crème")
    decomposed = unicodedata.normalize("NFD", "café crème")
    assert composed != decomposed
    assert verify_password(decomposed, hash_password(composed))


def test_the_dummy_check_is_always_false() -> None:
    assert verify_dummy("") is False
    assert verify_dummy("a password") is False


@pytest.mark.parametrize("password", ["", "1234567", "x" * 1025])
def test_new_passwords_are_checked(password: str) -> None:
    with pytest.raises(PasswordError):
        check_new_password(password)
    check_new_password("12345678")


def test_the_back_off_rule() -> None:
    assert [block_ms(n, USER_FREE) for n in range(7)] == [0, 0, 0, 0, 0, 1000, 2000]
    assert block_ms(USER_FREE + 9, USER_FREE) == 512_000
    assert block_ms(USER_FREE + 10, USER_FREE) == MAX_BLOCK_MS == 900_000
    assert block_ms(10_000, USER_FREE) == MAX_BLOCK_MS
    assert block_ms(ADDRESS_FREE - 1, ADDRESS_FREE) == 0
    assert block_ms(ADDRESS_FREE, ADDRESS_FREE) == 1000


def test_counters_ignore_case_and_keep_no_names() -> None:
    assert user_counter("1234", "Alice") == user_counter("1234", "alice")
    assert user_counter("1234", "alice") != user_counter("5678", "alice")
    assert address_counter("10.0.0.1") != address_counter("10.0.0.2")
    assert b"alice" not in user_counter("1234", "alice").key_hash
