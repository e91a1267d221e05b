"""Account routes check, before their handler runs, that the key the middleware let
through is of the path's account and has the scope: defence in depth, so a key of
another account is refused even when the middleware did not check the right route."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from engactivity.api.access.middleware import WaiverMiddleware
from engactivity.api.access.refusals import CHALLENGE
from engactivity.api.access.routes import add_route, guarded, record_grant
from engactivity.api.requestlog import Receive, Scope, Send
from engactivity.auth.access import READ_KEY, WAIVED, WRITE_KEY, Grant
from tests.auth.apphelp import call, in_process

QUERY = "/operations/api/account/acme/engactivity?timeframe=60&v=1"


def _request(grant: Grant | None, account: str = "acme") -> Request:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": f"/things/{account}",
        "headers": [],
        "path_params": {"accountId": account},
    }
    if grant is not None:
        record_grant(scope, grant)
    return Request(scope)


def _run_guarded(grant: Grant | None, scope: str = "read") -> tuple[Response, list[str]]:
    """The route wrapper of an account route, called directly: its answer, and whether
    the handler ran."""
    ran: list[str] = []

    async def handler(request: Request) -> Response:
        ran.append(request.path_params["accountId"])
        return Response(b"data")

    access = READ_KEY if scope == "read" else WRITE_KEY
    return asyncio.run(guarded(handler, access)(_request(grant))), ran


def _body(response: Response) -> object:
    return orjson.loads(bytes(response.body))


def test_the_wrapper_refuses_a_key_of_another_account() -> None:
    refused, ran = _run_guarded(Grant("k1", "other", frozenset({"read", "write"})))
    assert (refused.status_code, ran) == (403, [])
    assert _body(refused) == {
        "error": "forbidden",
        "message": "this key may not read account acme",
    }
    refused, ran = _run_guarded(Grant("k1", "other", frozenset({"write"})), "write")
    assert (refused.status_code, ran) == (403, [])
    assert "may not send events to account acme" in str(_body(refused))


def test_the_wrapper_refuses_a_key_without_the_scope() -> None:
    refused, ran = _run_guarded(Grant("k1", "acme", frozenset({"write"})))
    assert (refused.status_code, ran) == (403, [])
    refused, ran = _run_guarded(Grant("k1", "acme", frozenset({"read"})), "write")
    assert (refused.status_code, ran) == (403, [])


def test_the_wrapper_serves_the_right_key_and_waived_requests() -> None:
    served, ran = _run_guarded(Grant("k1", "acme", frozenset({"read"})))
    assert (served.status_code, ran) == (200, ["acme"])
    served, ran = _run_guarded(WAIVED, "write")
    assert (served.status_code, ran) == (200, ["acme"])


def test_the_wrapper_refuses_when_no_check_was_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "engactivity.auth"):
        refused, ran = _run_guarded(None)
    assert (refused.status_code, ran) == (401, [])
    assert refused.headers["www-authenticate"] == CHALLENGE
    assert "request refused: no credentials were checked" in caplog.text


def _app_without_the_middleware(grant: Grant | None) -> FastAPI:
    """An account route, and in front of it only something that records ``grant``
    (standing for a middleware that checked another route, or none at all)."""
    app = FastAPI(openapi_url=None)

    async def things(accountId: str) -> Response:
        return Response(accountId.encode())

    add_route(app, "/things/{accountId}", things, access=READ_KEY, methods=["GET"])
    if grant is not None:

        @app.middleware("http")
        async def records(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            record_grant(request.scope, grant)
            return await call_next(request)

    return app


def test_an_account_route_refuses_even_if_the_middleware_is_bypassed() -> None:
    other = Grant("k2", "other", frozenset({"read"}))
    assert call(_app_without_the_middleware(other), "GET", "/things/acme").status_code == 403
    assert call(_app_without_the_middleware(None), "GET", "/things/acme").status_code == 401
    own = Grant("k3", "acme", frozenset({"read"}))
    served = call(_app_without_the_middleware(own), "GET", "/things/acme")
    assert (served.status_code, served.text) == (200, "acme")


def test_authentication_off_still_serves_account_routes() -> None:
    app = _app_without_the_middleware(None)

    async def waived(scope: Scope, receive: Receive, send: Send) -> None:
        await WaiverMiddleware(app)(scope, receive, send)

    assert call(waived, "GET", "/things/acme").status_code == 200


def test_a_path_the_router_sends_to_an_account_route_is_checked_as_it(tmp_path: Path) -> None:
    """A final newline (%0A) still reaches the account route (its regex ends in ``$``):
    a key of another account is refused there, by the middleware and the route."""
    with in_process(tmp_path) as made:
        other = made.bearer("other")
        for path in (QUERY, QUERY.replace("?", "%0A?")):
            refused = call(made.app, "GET", path, other)
            assert refused.status_code == 403, (path, refused.text)
        refused = call(made.app, "POST", "/api/v1/accounts/acme/events%0A", other, "[]")
        assert refused.status_code == 403
        own = made.bearer("acme", "read")
        assert call(made.app, "GET", QUERY.replace("?", "%0A?"), own).status_code == 200


def test_requests_without_credentials_pass_where_they_did(tmp_path: Path) -> None:
    """Authentication off, or no key yet on a loopback bind: as before, served."""
    for folder in ("off", "first"):
        (tmp_path / folder).mkdir()
    with in_process(tmp_path / "off", auth=False) as made:
        assert call(made.app, "GET", QUERY).status_code == 200
        assert call(made.app, "POST", "/api/v1/accounts/acme/events", content="[]").is_success
    with in_process(tmp_path / "first", first_key=None) as made:
        assert call(made.app, "GET", QUERY).status_code == 200
        made.bearer("acme")
        assert call(made.app, "GET", QUERY).status_code == 401
