"""Checking credentials: a bearer token, or an OAuth 1.0a signature, against the key store.

Shared by all requests of a process. Key store lookups that are network round trips
(PostgreSQL) run off the event loop. The localhost exception lives here too: while
the store has never held a key and the server listens on loopback only, requests
without credentials are served; it ends for good at the first key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from engactivity.auth.keys import bearer_id, bearer_matches
from engactivity.auth.keystore import KeyStore
from engactivity.auth.oauth1 import Outcome, verify_oauth1
from engactivity.auth.secretbox import MasterKey, MasterKeyError

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
    ) -> None:
        self.keys = keys
        self.master = master
        self.metrics_open = metrics_open
        self.metrics_token = metrics_token
        self.open_until_first_key = localhost_exception
        """Loopback bind and no key created yet: requests without credentials pass."""

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self.keys.blocking:
            return await anyio.to_thread.run_sync(fn, *args)
        return fn(*args)

    async def still_open(self) -> bool:
        """Whether the localhost exception holds; it ends for good at the first key."""
        if not self.open_until_first_key:
            return False
        if await self._call(self.keys.any_key):
            self.open_until_first_key = False
            log.warning(
                "an API key exists now: requests without credentials are refused from now on"
            )
            return False
        return True

    async def verify(
        self, uri: str, method: str, authorization: str, content_type: str, body: bytes | None
    ) -> Outcome:
        """Check the credentials of a request to ``uri`` (as the client addressed it)."""
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            return await self._call(self._verify_bearer, value.strip())
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
