"""Checking credentials: a bearer token, or an OAuth 1.0a signature, against the key store.

Shared by all requests of a process. Key store lookups that are network round trips
(PostgreSQL) run off the event loop. A bearer of 64 hex digits is a login session's
(``login.py``), looked up off the event loop too (a use of it may be written); it
reads its own account, like a read key. The localhost exception lives here too: while
the store has never held a key or a user and the server listens on loopback only,
requests without credentials are served; it ends for good at the first of either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from engactivity.auth.keys import READ, KeyRecord, bearer_id, bearer_matches
from engactivity.auth.keystore import KeyStore
from engactivity.auth.login import LoginService
from engactivity.auth.oauth1 import Outcome, verify_oauth1
from engactivity.auth.secretbox import MasterKey, MasterKeyError
from engactivity.auth.sessions import Session, is_session_bearer

log = logging.getLogger("engactivity.auth")

T = TypeVar("T")


class Authenticator:
    """Checks credentials against the key store; shared by all requests of a process."""

    def __init__(
        self,
        keys: KeyStore,
        master: MasterKey,
        *,
        localhost_exception: bool,
        metrics_open: bool,
        metrics_token: str | None,
        logins: LoginService | None = None,
    ) -> None:
        self.keys = keys
        self.logins = logins
        self.master = master
        self.metrics_open = metrics_open
        self.metrics_token = metrics_token
        self.open_until_first_key = localhost_exception
        """Loopback bind and no key or user created yet: requests without credentials pass."""

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self.keys.blocking:
            return await anyio.to_thread.run_sync(fn, *args)
        return fn(*args)

    async def still_open(self) -> bool:
        """Whether the localhost exception holds; it ends for good at the first key or user."""
        if not self.open_until_first_key:
            return False
        if await self._call(any_credential, self.keys, self.logins):
            self.open_until_first_key = False
            log.warning(
                "an API key or a user exists now: requests without credentials are refused "
                "from now on"
            )
            return False
        return True

    async def verify(
        self, uri: str, method: str, authorization: str, content_type: str, body: bytes | None
    ) -> Outcome:
        """Check the credentials of a request to ``uri`` (as the client addressed it)."""
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
            if self.logins is not None and is_session_bearer(token):
                return await self._verify_session(self.logins, token)
            return await self._call(self._verify_bearer, token)
        # OAuth 1.0a: in the Authorization header, the query or the form body (RFC 5849
        # 3.5); the fields of a form body are part of the signature base string either way.
        headers = {"Authorization": authorization} if authorization else {}
        if content_type:
            headers["Content-Type"] = content_type
        text = body.decode("utf-8", "replace") if body is not None else None
        try:
            box = self.master.box()
        except MasterKeyError as exc:
            log.error("%s: OAuth 1.0a keys are refused", exc)
            box = None
        return await self._call(verify_oauth1, self.keys, box, uri, method, text, headers)

    async def _verify_session(self, logins: LoginService, token: str) -> Outcome:
        # Off the event loop always: a use of the session may be written.
        session = await anyio.to_thread.run_sync(logins.by_bearer, token)
        return Outcome(None, "unknown or ended session") if session is None else _ok(session)

    def _verify_bearer(self, token: str) -> Outcome:
        key_id = bearer_id(token)
        if key_id is None:
            return Outcome(None, "malformed bearer token")
        record = self.keys.get(key_id)
        if record is None or not bearer_matches(record, token):
            return Outcome(None, "unknown bearer token")
        if not record.active:
            return Outcome(None, "revoked key")
        return Outcome(record, "ok")


def any_credential(keys: KeyStore, logins: LoginService | None) -> bool:
    """Whether a key or a user was ever created."""
    return keys.any_key() or (logins is not None and logins.users.any_user())


SESSION_KIND = "session"


def _ok(session: Session) -> Outcome:
    """A live session, as the read key of its account it stands for."""
    record = KeyRecord(
        f"user:{session.user_id}",
        session.account,
        SESSION_KIND,
        frozenset({READ}),
        session.created_ms,
    )
    return Outcome(record, "ok")
