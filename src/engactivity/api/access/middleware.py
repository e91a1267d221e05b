"""The authentication middleware: who is calling, and may they call this route.

A plain ASGI middleware that runs before routing and before any body is read
(except a form body, which an OAuth 1.0a signature covers or carries), so refused
requests cost a key lookup and nothing else, and the per-account rate limit after
it only ever counts authorized requests. What a route needs is declared on the
route (``routes.py``); the declaration of the route a request goes to is found in
the route table (``table.py``), and what was let through is recorded (a ``Grant``)
for the account routes' own check.

Answers: 401 with a JSON body and ``WWW-Authenticate`` when credentials are missing
or do not check out (the body never says which part failed; the log does), 403 when
a good key asks for another account or lacks the scope, and the API's 503
``store_unavailable`` (with ``Retry-After``) when the keys cannot be read: a key that
could not be checked is neither refused nor let through.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import parse_qsl

from engactivity.api.access.refusals import forbidden, log_refusal, unauthorized
from engactivity.api.access.routes import record_grant
from engactivity.api.access.table import Need, RouteTable
from engactivity.api.errors import error_response, store_unavailable_response
from engactivity.api.querybody import is_form
from engactivity.api.requestlog import ASGIApp, Message, Receive, Scope, Send, request_id_of
from engactivity.auth.access import WAIVED, Grant
from engactivity.auth.authenticator import Authenticator
from engactivity.auth.keystore import KeyStoreUnavailable

log = logging.getLogger("engactivity.auth")

MAX_FORM_BYTES = 256 * 1024
"""A form body is read here (no bearer given): its fields may be signed, or the signature."""


class AuthMiddleware:
    """Checks each request against the declaration of the route it goes to (``table``)."""

    def __init__(self, app: ASGIApp, auth: Authenticator, table: RouteTable) -> None:
        self.app = app
        self.auth = auth
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        need = self.table.need(scope)
        kind = need.access.kind
        if kind == "open":
            await self.app(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        if kind == "metrics":
            await self._metrics(scope, receive, send, authorization)
            return
        signed = bool(authorization) or _signed_in(scope.get("query_string", b""))
        # A form body is read here, when no bearer is given: an OAuth 1.0a signature
        # covers its fields, or may be in it (RFC 5849 3.5.2).
        body: bytes | None = None
        if _is_form(scope) and not authorization.lower().startswith("bearer"):
            body, more = await _read_form(receive, MAX_FORM_BYTES)
            receive = _replay(body, more, receive)
            if len(body) > MAX_FORM_BYTES and signed:
                too_large = error_response(413, "payload_too_large", "the form body is too large")
                await too_large(scope, receive, send)
                return
            if len(body) > MAX_FORM_BYTES:
                body = None  # too large to be a signed form: the request is unsigned
        if signed or _signed_in(body):
            await self._with_credentials(scope, receive, send, need, authorization, body)
        else:
            await self._without_credentials(scope, receive, send, need)

    async def _without_credentials(
        self, scope: Scope, receive: Receive, send: Send, need: Need
    ) -> None:
        try:
            still_open = await self.auth.still_open()
        except KeyStoreUnavailable as exc:
            await self._unavailable(scope, receive, send, exc)
            return
        if still_open:
            record_grant(scope, WAIVED)
            await self.app(scope, receive, send)
            return
        await unauthorized("credentials are required")(scope, receive, send)
        log_refusal(scope, "no credentials", need.account, None)

    async def _with_credentials(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        need: Need,
        authorization: str,
        body: bytes | None,
    ) -> None:
        try:
            outcome = await self.auth.verify(
                _request_uri(scope),
                scope["method"],
                authorization,
                _header(scope, b"content-type"),
                body,
            )
        except KeyStoreUnavailable as exc:
            await self._unavailable(scope, receive, send, exc)
            return
        record = outcome.record
        if record is None:
            log_refusal(scope, outcome.reason, need.account, None)
            await unauthorized("the credentials are not valid")(scope, receive, send)
            return
        grant = Grant(record.key_id, record.account, record.scopes)
        if need.access.kind == "account" and not grant.allows(need.account, need.access.scope):
            log_refusal(scope, "forbidden", need.account, record.key_id)
            await forbidden(need.account, need.access.scope)(scope, receive, send)
            return
        record_grant(scope, grant)
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
        log_refusal(scope, "metrics token", None, None)
        refusal = unauthorized("/metrics needs the metrics token (--metrics-token)")
        await refusal(scope, receive, send)

    async def _unavailable(
        self, scope: Scope, receive: Receive, send: Send, exc: KeyStoreUnavailable
    ) -> None:
        log.warning(
            "key store unavailable: %s",
            exc,
            extra={"fields": {"request_id": request_id_of(scope), "path": scope.get("path", "")}},
        )
        await store_unavailable_response()(scope, receive, send)


class WaiverMiddleware:
    """Authentication off (``--insecure-no-auth``): every request is let through, and
    says so to the account routes' own check."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            record_grant(scope, WAIVED)
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _is_form(scope: Scope) -> bool:
    return is_form(_header(scope, b"content-type"))


def _signed_in(form: bytes | None) -> bool:
    """Whether a query string or form body carries an OAuth 1.0a signature."""
    if not form or b"oauth_signature" not in form:
        return False
    return any(name == "oauth_signature" for name, _ in parse_qsl(form.decode("latin-1")))


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


async def _read_form(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, or its first part once that is over ``limit`` bytes; and whether
    more of it is still to come."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if not more or size > limit:
            return b"".join(chunks), more


def _replay(read: bytes, more: bool, original: Receive) -> Receive:
    """A receive that hands the app what was read here, then the rest of the body."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": read, "more_body": more}
        return await original()

    return receive
