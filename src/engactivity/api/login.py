"""The Login Service's routes (COMPAT.md section 2): login, refresh, logout.

Open routes (a login has no credentials yet; refresh and logout bring the session's own
secrets, checked here). The work runs off the event loop (``auth/login.py`` blocks);
password checks, a tenth of a second of CPU and 32 MiB each, run at most one per CPU at
a time, so a burst of logins queues instead of exhausting memory.

Every refusal reads the same whatever failed (a user that does not exist, a wrong
password; an unknown, ended or other account's session, a wrong csrf value): 401 with
the API's JSON error body.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from engactivity import telemetry
from engactivity.api.access.refusals import log_refusal, unauthorized
from engactivity.api.access.routes import add_route
from engactivity.api.bodies import read_body
from engactivity.api.discovery import SERVICES, service_entry
from engactivity.api.errors import error_response
from engactivity.api.openapi import AccountId
from engactivity.auth.access import OPEN
from engactivity.auth.login import LoggedIn, LoginService, LoginThrottled, SessionProof
from engactivity.auth.passwords import MAX_LENGTH as MAX_PASSWORD
from engactivity.auth.sessions import is_session_bearer
from engactivity.core.accounts import check_account_id
from engactivity.core.problems import InvalidRequest, Problem

log = logging.getLogger("engactivity.auth")

COOKIE = "Session_id"
MAX_BODY_BYTES = 16 * 1024
MAX_USERNAME = 256
_FORM = "application/x-www-form-urlencoded"


class LoginRoutes:
    def __init__(self, logins: LoginService, advertised_host: str) -> None:
        self.logins = logins
        self.host = advertised_host
        self.hashing = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))

    def install(self, app: FastAPI) -> None:
        for name, endpoint, summary in (
            ("login", self.login, "Log in with a user name and password: a session's bearer"),
            ("refresh", self.refresh, "Extend a login session (csrf value and cookie)"),
            ("logout", self.logout, "End a login session at once (csrf value and cookie)"),
        ):
            add_route(
                app,
                f"/api/account/{{accountId}}/{name}",
                endpoint,
                access=OPEN,
                methods=["POST"],
                tags=["login"],
                summary=summary,
                response_class=Response,
                openapi_extra=OPENAPI[name],
            )

    async def login(self, request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        _check_version(request.query_params.get("v"))
        body = await _body(request)
        username = _text(body, "username", MAX_USERNAME)
        password = _text(body, "password", MAX_PASSWORD)
        address = request.client.host if request.client else "unknown"
        try:
            done = await anyio.to_thread.run_sync(
                self.logins.login, accountId, username, password, address, limiter=self.hashing
            )
        except LoginThrottled as exc:
            return _throttled(request, accountId, exc.retry_after_s)
        if done is None:
            telemetry.count_login("refused")
            log_refusal(request.scope, "wrong user name or password", accountId, None)
            return unauthorized("the user name or password is not valid")
        telemetry.count_login("ok")
        response = Response(orjson.dumps(self._answer(done)), media_type="application/json")
        _set_cookie(response, request, accountId, done.made.cookie)
        return response

    async def refresh(self, request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        proof = await _proof(request)
        if not await anyio.to_thread.run_sync(self.logins.refresh, accountId, proof):
            return _no_session(request, accountId)
        response = Response(status_code=200)
        if proof.cookie:
            _set_cookie(response, request, accountId, proof.cookie)
        return response

    async def logout(self, request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        proof = await _proof(request)
        if not await anyio.to_thread.run_sync(self.logins.logout, accountId, proof):
            return _no_session(request, accountId)
        response = Response(status_code=200)
        response.delete_cookie(
            COOKIE, path=_cookie_path(accountId), httponly=True, samesite="strict"
        )
        return response

    def _answer(self, done: LoggedIn) -> dict[str, Any]:
        """The login answer: the fields of the hosted service's that mean something here."""
        user, made = done.user, done.made
        return {
            "csrf": made.csrf,
            "config": {
                "loginName": user.login_name,
                "userId": str(user.user_id),
                "accountId": user.account,
                "userPrivileges": [],
                "serverCurrentTime": made.session.created_ms,
                "timeDiff": 0,
                "serverTimeZoneName": "UTC",
                "serverTimeGMTDiff": 0,
                "isLPA": False,
                "isAdmin": False,
                "accountTimeZoneId": "UTC",
            },
            "csdsCollectionResponse": {
                "baseURIs": [service_entry(s, user.account, self.host) for s in SERVICES]
            },
            "sessionTTl": str(self.logins.sessions.idle_ms),
            "bearer": made.bearer,
        }


def _throttled(request: Request, account: str, wait: int) -> Response:
    telemetry.count_login("throttled")
    log_refusal(request.scope, "login throttled", account, None)
    return error_response(
        429,
        "too_many_requests",
        f"too many failed logins; try again in {wait} second{'s' * (wait != 1)}",
        headers={"Retry-After": str(wait)},
    )


def _no_session(request: Request, account: str) -> Response:
    log_refusal(request.scope, "no such session or wrong csrf", account, None)
    return unauthorized("the session is not valid (ended, expired or not this one); log in again")


def _check_version(version: str | None) -> None:
    """``v``: any version number is answered as 1.3 (clients send 1.3; the answer is
    the same for the versions before it)."""
    if version is None or version.replace(".", "", 1).isdigit():
        return
    raise InvalidRequest([Problem("v", f"v={version[:40]!r} is not a version number", "1.3")])


async def _body(request: Request) -> dict[str, Any]:
    """The body's fields: a JSON object or a form; ``null`` values are absent."""
    raw = await read_body(request, MAX_BODY_BYTES)
    if raw is None:
        raise InvalidRequest([Problem("body", "the body is too large", f"{MAX_BODY_BYTES} bytes")])
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == _FORM and not raw.lstrip().startswith(b"{"):
        # A form; JSON sent as a form (curl -d) is read as the JSON it is.
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise InvalidRequest([Problem("body", "the body must be a JSON object", "a JSON object")])
    return {k: v for k, v in body.items() if v is not None}


def _text(body: dict[str, Any], field: str, limit: int) -> str:
    value = body.get(field)
    if isinstance(value, str) and 1 <= len(value) <= limit:
        return value
    problem = f"{field} is required" if value is None else f"{field} is not a string of that length"
    raise InvalidRequest([Problem(field, problem, f"a string of 1 to {limit} characters")])


async def _proof(request: Request) -> SessionProof:
    """What a refresh or logout brings: the csrf value (``csfr`` too: the community
    wrapper spells it so), the cookie, a session's bearer."""
    body = await _body(request)
    csrf = body.get("csrf", body.get("csfr", ""))
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else ""
    return SessionProof(
        csrf if isinstance(csrf, str) else "",
        cookie=request.cookies.get(COOKIE, ""),
        bearer=bearer if is_session_bearer(bearer) else "",
    )


def _cookie_path(account: str) -> str:
    return f"/api/account/{account}"


def _set_cookie(response: Response, request: Request, account: str, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        path=_cookie_path(account),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def _json_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_CSRF = {"csrf": {"type": "string", "description": "The csrf value of the login answer."}}
_ENDED = {"description": "OK (empty body)"}
_REFUSED = {"description": "No such session, or a wrong csrf value (JSON error body)"}
OPENAPI: dict[str, dict[str, Any]] = {
    "login": {
        "requestBody": _json_body(
            {"username": {"type": "string"}, "password": {"type": "string"}},
            ["username", "password"],
        ),
        "responses": {
            "200": {"description": "The session: bearer, csrf, config; a Session_id cookie"},
            "401": {"description": "Wrong user name or password (the same answer for both)"},
            "429": {"description": "Too many failed logins; see Retry-After"},
        },
    },
    "refresh": {
        "requestBody": _json_body(_CSRF, ["csrf"]),
        "responses": {"200": _ENDED, "401": _REFUSED},
    },
    "logout": {
        "requestBody": _json_body(_CSRF, ["csrf"]),
        "responses": {"200": _ENDED, "401": _REFUSED},
    },
}
