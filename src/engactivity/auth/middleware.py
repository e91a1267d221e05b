"""The authentication middleware: who is calling, and may they call this path.

A plain ASGI middleware that runs before routing and before any body is read
(except a form body an OAuth 1.0a signature covers), so refused requests cost a key
lookup and nothing else, and the per-account rate limit after it only ever counts
authorized requests.

Answers: 401 with a JSON body and ``WWW-Authenticate`` when credentials are missing
or do not check out (the body never says which part failed; the log does), 403 when
a good key asks for another account or lacks the scope, and the API's 503
``store_unavailable`` (with ``Retry-After``) when the keys cannot be read: a key that
could not be checked is neither refused nor let through.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool

from engactivity.api.errors import store_unavailable_response
from engactivity.api.requestlog import ASGIApp, Message, Receive, Scope, Send, request_id_of
from engactivity.auth.keys import bearer_id, bearer_matches
from engactivity.auth.keystore import KeyStore, KeyStoreUnavailable
from engactivity.auth.oauth1 import Outcome, verify_oauth1
from engactivity.auth.policy import Need, need_for
from engactivity.auth.secretbox import MasterKey, MasterKeyError

log = logging.getLogger("engactivity.auth")

MAX_FORM_BYTES = 256 * 1024
"""A form body is read here only when an OAuth 1.0a signature covers it."""

CHALLENGE = b'Bearer realm="engactivity", OAuth realm="engactivity"'
_FORM = "application/x-www-form-urlencoded"

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
            return await run_in_threadpool(fn, *args)
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

    async def verify(self, scope: Scope, authorization: str, body: bytes | None) -> Outcome:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            return await self._call(self._verify_bearer, value.strip())
        # OAuth 1.0a: in the Authorization header, or (RFC 5849 3.5.2) in the query.
        uri = _request_uri(scope)
        headers = {"Authorization": authorization} if authorization else {}
        content_type = _header(scope, b"content-type")
        if content_type:
            headers["Content-Type"] = content_type
        text = body.decode("utf-8", "replace") if body is not None else None
        try:
            box = self.master.box()
        except MasterKeyError as exc:
            log.error("%s: OAuth 1.0a keys are refused", exc)
            box = None
        return await self._call(verify_oauth1, self.keys, box, uri, scope["method"], text, headers)

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


class AuthMiddleware:
    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        need = need_for(scope.get("path", ""))
        if need.kind == "open":
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        if need.kind == "metrics":
            await self._metrics(scope, receive, send, authorization)
            return
        oauth_in_query = b"oauth_signature" in scope.get("query_string", b"")
        if not authorization and not oauth_in_query:
            try:
                still_open = await self.auth.still_open()
            except KeyStoreUnavailable as exc:
                await self._unavailable(scope, receive, send, exc)
                return
            if still_open:
                await self.app(scope, receive, send)
                return
            await _unauthorized(send, "credentials are required")
            self._log(scope, need, "no credentials", None)
            return
        body: bytes | None = None
        if _is_form(scope) and not authorization.lower().startswith("bearer"):
            body = await _read_small_body(receive, MAX_FORM_BYTES)
            if body is None:
                await _send_json(send, 413, "payload_too_large", "the form body is too large")
                return
            receive = _replay(body, receive)
        try:
            outcome = await self.auth.verify(scope, authorization, body)
        except KeyStoreUnavailable as exc:
            await self._unavailable(scope, receive, send, exc)
            return
        record = outcome.record
        if record is None:
            self._log(scope, need, outcome.reason, None)
            await _unauthorized(send, "the credentials are not valid")
            return
        if need.kind == "account" and (
            record.account != need.account or need.scope not in record.scopes
        ):
            verb = "read" if need.scope == "read" else "send events to"
            self._log(scope, need, "forbidden", record.key_id)
            await _send_json(
                send, 403, "forbidden", f"this key may not {verb} account {need.account}"
            )
            return
        scope.setdefault("state", {})["key_id"] = record.key_id
        await self.app(scope, receive, send)

    async def _metrics(
        self, scope: Scope, receive: Receive, send: Send, authorization: str
    ) -> None:
        token = self.auth.metrics_token
        if token is not None:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                await self.app(scope, receive, send)
                return
        elif self.auth.metrics_open:
            await self.app(scope, receive, send)
            return
        self._log(scope, METRICS_NEED, "metrics token", None)
        await _unauthorized(send, "/metrics needs the metrics token (--metrics-token)")

    async def _unavailable(
        self, scope: Scope, receive: Receive, send: Send, exc: KeyStoreUnavailable
    ) -> None:
        log.warning(
            "key store unavailable: %s",
            exc,
            extra={"fields": {"request_id": request_id_of(scope), "path": scope.get("path", "")}},
        )
        await store_unavailable_response()(scope, receive, send)

    def _log(self, scope: Scope, need: Need, reason: str, key_id: str | None) -> None:
        log.info(
            "request refused: %s",
            reason,
            extra={
                "fields": {
                    "request_id": request_id_of(scope),
                    "path": scope.get("path", ""),
                    "account": need.account,
                    "key_id": key_id,
                }
            },
        )


METRICS_NEED = need_for("/metrics")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _is_form(scope: Scope) -> bool:
    return _header(scope, b"content-type").split(";")[0].strip().lower() == _FORM


def _request_uri(scope: Scope) -> str:
    """The URL as the client addressed it: what an OAuth 1.0a client signed.

    Scheme from the connection (uvicorn sets it from ``X-Forwarded-Proto`` only for
    trusted proxies, ``--forwarded-allow-ips``), host and port from the Host header
    the client sent, path and query exactly as received.
    """
    host = _header(scope, b"host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
    uri = f"{scope.get('scheme', 'http')}://{host}{raw_path.decode('latin-1')}"
    query = scope.get("query_string", b"")
    return f"{uri}?{query.decode('latin-1')}" if query else uri


async def _read_small_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """A receive that hands the app the body read here, then the real channel."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


async def _send_json(
    send: Send, status: int, code: str, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    body = orjson.dumps({"error": code, "message": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(send: Send, message: str) -> None:
    await _send_json(send, 401, "unauthorized", message, ((b"www-authenticate", CHALLENGE),))
