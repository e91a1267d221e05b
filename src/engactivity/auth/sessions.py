"""Login sessions: table ``login_session``, so every server process sees every session.

A login makes three random 256-bit secrets: the bearer (sent as ``Authorization:
Bearer`` on every request), the ``Session_id`` cookie and the csrf value (both sent to
refresh and logout). Only their SHA-256 hashes are stored: a copy of the database lets
nobody in. Random secrets of 256 bits need no slow hash, and their hash is the
primary key (or a unique key) they are found by.

A session ends at logout, when its user is removed or given a new password, or when
it has not been used for the idle time: a login, a refresh or a request with its
bearer is a use. Uses are written at most every tenth of the idle time (and at least
every minute), so a session in steady use costs one small write a minute, not one a
request; it may end up to that much before the idle time after its last use.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import astuple, dataclass
from typing import Any, Literal

from engactivity.auth.authdb import AuthDatabase
from engactivity.auth.keys import hash_token

SESSION_TABLE = """
CREATE TABLE IF NOT EXISTS login_session (
    bearer_hash {bytes} PRIMARY KEY,
    cookie_hash {bytes} NOT NULL UNIQUE,
    csrf_hash   {bytes} NOT NULL UNIQUE,
    account     TEXT NOT NULL,
    user_id     BIGINT NOT NULL,
    login_name  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    seen_ms     BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_session_by_user ON login_session (account, user_id);
CREATE INDEX IF NOT EXISTS login_session_by_seen ON login_session (seen_ms);
"""
_COLUMNS = "bearer_hash, csrf_hash, account, user_id, login_name, created_ms, seen_ms"
_BY = {"bearer": "bearer_hash", "cookie": "cookie_hash", "csrf": "csrf_hash"}
_BEARER_RE = re.compile(r"[0-9a-f]{64}")
_PURGE_EVERY_S = 60.0
MAX_TOUCH_INTERVAL_MS = 60_000

Secret = Literal["bearer", "cookie", "csrf"]


def is_session_bearer(token: str) -> bool:
    """Whether ``token`` has the form of a session's bearer (64 hex digits, like the
    hosted service's), as opposed to an API key's ``ea_...``."""
    return _BEARER_RE.fullmatch(token) is not None


@dataclass(frozen=True)
class Session:
    bearer_hash: bytes
    csrf_hash: bytes
    account: str
    user_id: int
    login_name: str
    created_ms: int
    seen_ms: int


@dataclass(frozen=True)
class NewSession:
    """A session just made, with its secrets (given to the client once)."""

    session: Session
    bearer: str
    csrf: str
    cookie: str


class SessionStore:
    def __init__(self, db: AuthDatabase, idle_ms: int) -> None:
        self._db = db
        self.idle_ms = idle_ms
        self.touch_interval_ms = min(MAX_TOUCH_INTERVAL_MS, max(1, idle_ms // 10))
        self._last_purge = 0.0
        db.ensure(SESSION_TABLE.format(bytes=db.bytes_type))

    def create(self, account: str, user_id: int, login_name: str, now_ms: int) -> NewSession:
        self._purge(now_ms)
        bearer, csrf = secrets.token_hex(32), secrets.token_hex(32)
        cookie = secrets.token_urlsafe(32)
        session = Session(
            hash_token(bearer), hash_token(csrf), account, user_id, login_name, now_ms, now_ms
        )
        sql = self._db.sql(
            f"INSERT INTO login_session (cookie_hash, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        values = (hash_token(cookie), *astuple(session))
        self._db.write(lambda conn: conn.execute(sql, values))
        return NewSession(session, bearer, csrf, cookie)

    def find(self, by: Secret, token: str, now_ms: int) -> Session | None:
        """The live session whose ``by`` secret is ``token``, else None."""
        sql = self._db.sql(f"SELECT {_COLUMNS} FROM login_session WHERE {_BY[by]} = ?")
        row = self._db.read(lambda conn: conn.execute(sql, (hash_token(token),)).fetchone())
        if row is None:
            return None
        session = _session(row)
        return session if now_ms - session.seen_ms < self.idle_ms else None

    def used(self, session: Session, now_ms: int, *, always: bool = False) -> None:
        """Record a use of the session (when one is due, or ``always``)."""
        if not always and now_ms - session.seen_ms < self.touch_interval_ms:
            return
        sql = self._db.sql(
            "UPDATE login_session SET seen_ms = ? WHERE bearer_hash = ? AND seen_ms < ?"
        )
        self._db.write(lambda conn: conn.execute(sql, (now_ms, session.bearer_hash, now_ms)))

    def end(self, session: Session) -> None:
        sql = self._db.sql("DELETE FROM login_session WHERE bearer_hash = ?")
        self._db.write(lambda conn: conn.execute(sql, (session.bearer_hash,)))

    def end_user(self, account: str, user_id: int) -> int:
        """End every session of the user; how many there were."""
        sql = self._db.sql("DELETE FROM login_session WHERE account = ? AND user_id = ?")
        ended: int = self._db.write(lambda conn: conn.execute(sql, (account, user_id)).rowcount)
        return ended

    def _purge(self, now_ms: int) -> None:
        """Delete the sessions idle for too long (now and then, at a login)."""
        if time.monotonic() - self._last_purge < _PURGE_EVERY_S:
            return
        self._last_purge = time.monotonic()
        sql = self._db.sql("DELETE FROM login_session WHERE seen_ms <= ?")
        self._db.run(lambda conn: conn.execute(sql, (now_ms - self.idle_ms,)))


def _session(row: tuple[Any, ...]) -> Session:
    bearer_hash, csrf_hash, account, user_id, login_name, created, seen = row
    return Session(
        bytes(bearer_hash),
        bytes(csrf_hash),
        str(account),
        int(user_id),
        str(login_name),
        int(created),
        int(seen),
    )
