"""The users who log in (the Login Service): table ``login_user`` in the store's database.

A user belongs to one account and has a login name (unique in the account, matched
exactly), a numeric user id (unique in the account; the operator may give the id the
events use for the agent), an optional full name and nickname, and a password kept
only as a slow salted hash (``passwords.py``). Operators manage users with
``engactivity users``; the server only reads them, at login.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from engactivity.auth.authdb import AuthDatabase

USER_TABLE = """
CREATE TABLE IF NOT EXISTS login_user (
    account       TEXT NOT NULL,
    user_id       BIGINT NOT NULL,
    login_name    TEXT NOT NULL,
    full_name     TEXT,
    nickname      TEXT,
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    password_ms   BIGINT NOT NULL,
    PRIMARY KEY (account, user_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS login_user_by_name ON login_user (account, login_name);
"""
USER_COLUMNS = (
    "account, user_id, login_name, full_name, nickname, password_hash, created_ms, password_ms"
)
MAX_NAME = 128
MAX_USER_ID = 2**63 - 1


class UserError(ValueError):
    """A user argument is malformed, or the user exists already or does not exist."""


def check_name(value: str, what: str) -> str:
    """A login name, full name or nickname: 1 to 128 characters, none a control
    character, no space at either end."""
    if not 1 <= len(value) <= MAX_NAME or value != value.strip():
        raise UserError(f"{what} must have 1 to {MAX_NAME} characters, without spaces at the ends")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise UserError(f"{what} must not contain control characters")
    return value


def check_user_id(user_id: int) -> int:
    if not 1 <= user_id <= MAX_USER_ID:
        raise UserError(f"the user id must be a whole number from 1 to {MAX_USER_ID}")
    return user_id


@dataclass(frozen=True)
class UserRecord:
    account: str
    user_id: int
    login_name: str
    full_name: str | None
    nickname: str | None
    password_hash: str
    created_ms: int
    password_ms: int
    """When the password was last set."""

    def listing(self) -> dict[str, object]:
        """What ``users list`` shows: everything but the password's hash."""
        return {
            "account": self.account,
            "userId": self.user_id,
            "loginName": self.login_name,
            "fullName": self.full_name,
            "nickname": self.nickname,
            "createdMs": self.created_ms,
            "passwordChangedMs": self.password_ms,
        }


class UserStore:
    def __init__(self, db: AuthDatabase) -> None:
        self._db = db
        db.ensure(USER_TABLE)

    def add(self, user: UserRecord) -> UserRecord:
        """Store a new user; ``user_id`` 0 takes the account's highest id plus one."""
        sql = self._db.sql

        def insert(conn: Any) -> UserRecord:
            taken = conn.execute(
                sql("SELECT 1 FROM login_user WHERE account = ? AND login_name = ?"),
                (user.account, user.login_name),
            ).fetchone()
            if taken:
                raise UserError(f"account {user.account} has a user {user.login_name!r} already")
            user_id = user.user_id or _next_id(conn, sql, user.account)
            same_id = conn.execute(
                sql("SELECT login_name FROM login_user WHERE account = ? AND user_id = ?"),
                (user.account, user_id),
            ).fetchone()
            if same_id:
                raise UserError(f"user id {user_id} is {same_id[0]!r}'s in account {user.account}")
            made = replace(user, user_id=user_id)
            conn.execute(
                sql(f"INSERT INTO login_user ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                _values(made),
            )
            return made

        return self._db.write(insert)

    def find(self, account: str, login_name: str) -> UserRecord | None:
        sql = self._db.sql(
            f"SELECT {USER_COLUMNS} FROM login_user WHERE account = ? AND login_name = ?"
        )
        row = self._db.read(lambda conn: conn.execute(sql, (account, login_name)).fetchone())
        return None if row is None else _record(row)

    def list(self, account: str | None = None) -> list[UserRecord]:
        where = "" if account is None else "WHERE account = ? "
        sql = self._db.sql(
            f"SELECT {USER_COLUMNS} FROM login_user {where}ORDER BY account, user_id"
        )
        params = () if account is None else (account,)
        rows = self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return [_record(row) for row in rows]

    def remove(self, account: str, login_name: str) -> UserRecord | None:
        """Delete the user; the user removed, or None when there was none."""
        found = self.find(account, login_name)
        if found is not None:
            sql = self._db.sql("DELETE FROM login_user WHERE account = ? AND user_id = ?")
            self._db.write(lambda conn: conn.execute(sql, (account, found.user_id)))
        return found

    def set_password(
        self, account: str, login_name: str, password_hash: str, now_ms: int
    ) -> UserRecord | None:
        sql = self._db.sql(
            "UPDATE login_user SET password_hash = ?, password_ms = ? "
            "WHERE account = ? AND login_name = ?"
        )
        params = (password_hash, now_ms, account, login_name)
        self._db.write(lambda conn: conn.execute(sql, params))
        return self.find(account, login_name)

    def any_user(self) -> bool:
        row = self._db.read(
            lambda conn: conn.execute("SELECT 1 FROM login_user LIMIT 1").fetchone()
        )
        return row is not None


def _next_id(conn: Any, sql: Callable[[str], str], account: str) -> int:
    row = conn.execute(
        sql("SELECT MAX(user_id) FROM login_user WHERE account = ?"), (account,)
    ).fetchone()
    return int(row[0] or 0) + 1


def _values(user: UserRecord) -> tuple[object, ...]:
    return (
        user.account,
        user.user_id,
        user.login_name,
        user.full_name,
        user.nickname,
        user.password_hash,
        user.created_ms,
        user.password_ms,
    )


def _record(row: tuple[Any, ...]) -> UserRecord:
    account, user_id, login_name, full_name, nickname, password_hash, created, changed = row
    return UserRecord(
        account=str(account),
        user_id=int(user_id),
        login_name=str(login_name),
        full_name=None if full_name is None else str(full_name),
        nickname=None if nickname is None else str(nickname),
        password_hash=str(password_hash),
        created_ms=int(created),
        password_ms=int(changed),
    )
