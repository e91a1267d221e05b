"""Access is declared on the routes; the route table finds a request's declaration the
way the router finds its route, and refuses to be built while a route declares none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import Response

from engactivity.api import app as app_module
from engactivity.api.access.routes import add_route, declare
from engactivity.api.access.table import MAX_CACHED, Need, RouteTable, UndeclaredRoute
from engactivity.auth.access import ANY_KEY, METRICS, OPEN, READ_KEY, WRITE_KEY
from tests.auth.apphelp import in_process


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouteTable]:
    """The table of the real app, as create_app builds it."""
    with in_process(tmp_path_factory.mktemp("table"), auth=False) as made:
        yield RouteTable(made.app.routes)


async def _ok() -> Response:
    return Response(b"ok")


def test_the_apps_routes_declare_what_they_need(table: RouteTable) -> None:
    for path in (
        "/healthz",
        "/readyz",
        "/",
        "/wallboard",
        "/wallboard/",
        "/wallboard/static/app.js",
        "/api/account/12/service/leDataReporting/baseURI.json",
        "/api/account/12/service/agentVep/baseURI.json",
        "/api/account/12/service/unknown/baseURI.json",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    ):
        assert table.find("GET", path) == Need(OPEN), path
    for action in ("login", "refresh", "logout"):  # a session's own secrets, checked there
        assert table.find("POST", f"/api/account/12/{action}") == Need(OPEN)
    query = "/operations/api/account/12/engactivity"
    assert table.find("GET", query) == Need(READ_KEY, "12")
    assert table.find("POST", query) == Need(READ_KEY, "12")
    assert table.find("POST", "/api/v1/accounts/12/events") == Need(WRITE_KEY, "12")
    assert table.find("POST", "/api/v1/accounts/12/configuration") == Need(WRITE_KEY, "12")
    for kind in ("skills", "users", "agentGroups"):
        listing = f"/api/account/12/configuration/le-users/{kind}"
        assert table.find("GET", listing) == Need(READ_KEY, "12")
        assert table.find("GET", listing + "/7") == Need(READ_KEY, "12")
    assert table.find("GET", "/metrics") == Need(METRICS)
    # No route: a valid key of any account, so a 404 tells nothing to anonymous callers.
    assert table.find("GET", query + "/") == Need(ANY_KEY)
    assert table.find("GET", "/anything") == Need(ANY_KEY)
    assert table.find("GET", "/wallboard/static") == Need(ANY_KEY)


def test_a_method_no_route_takes_uses_the_routes_declaration(table: RouteTable) -> None:
    """The router answers 405 for it, after authentication as that route's."""
    assert table.find("DELETE", "/api/v1/accounts/12/events") == Need(WRITE_KEY, "12")
    assert table.find("PUT", "/operations/api/account/7/engactivity") == Need(READ_KEY, "7")
    assert table.find("POST", "/healthz") == Need(OPEN)


def test_the_path_the_router_takes_is_the_one_checked(table: RouteTable) -> None:
    """The router's regexes end in ``$``, which also matches before a final newline:
    such a path reaches the account route, so it needs that account's key."""
    assert table.find("GET", "/operations/api/account/12/engactivity\n") == Need(READ_KEY, "12")


def test_the_path_is_read_as_the_router_reads_it(table: RouteTable) -> None:
    scope = {"type": "http", "method": "GET", "path": "/base/healthz", "root_path": "/base"}
    assert table.need(scope) == Need(OPEN)


def test_first_matching_route_wins_and_its_methods_count() -> None:
    app = FastAPI(openapi_url=None)
    add_route(app, "/things/{accountId}", _ok, access=OPEN, methods=["GET"])
    add_route(app, "/things/{accountId}", _ok, access=WRITE_KEY, methods=["POST"])
    add_route(app, "/things/{accountId}", _ok, access=METRICS, methods=["POST"])
    add_route(app, "/{anything}/7", _ok, access=ANY_KEY, methods=["GET"])
    routes = RouteTable(app.routes)
    assert routes.find("GET", "/things/7") == Need(OPEN)
    assert routes.find("POST", "/things/7") == Need(WRITE_KEY, "7")
    assert routes.find("PATCH", "/things/7") == Need(OPEN)  # the first by path
    assert routes.find("GET", "/other/7") == Need(ANY_KEY)


@given(st.text(max_size=300), st.sampled_from(["GET", "POST", "PUT", "HEAD"]))
def test_finding_never_fails(path: str, method: str) -> None:
    found = _TABLE.find(method, path)
    assert found.access.kind in ("open", "metrics", "account", "key")
    assert (found.account is not None) == (found.access.kind == "account")


def _small_table() -> RouteTable:
    app = FastAPI(openapi_url=None)
    add_route(app, "/a/{accountId}", _ok, access=READ_KEY, methods=["GET"])
    add_route(app, "/open", _ok, access=OPEN, methods=["GET"])
    return RouteTable(app.routes, cache_size=3)


_TABLE = _small_table()


def test_the_cache_stays_bounded() -> None:
    small = _small_table()
    for n in range(10):
        scope = {"type": "http", "method": "GET", "path": f"/a/{n}"}
        assert small.need(scope) == Need(READ_KEY, str(n))
        assert small.need(scope) == Need(READ_KEY, str(n))
        assert len(small._cache) <= 3
    long = {"type": "http", "method": "GET", "path": "/a/" + "x" * MAX_CACHED}
    assert small.need(long).access == READ_KEY
    assert ("GET", long["path"]) not in small._cache


def test_an_undeclared_route_stops_the_app_from_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_health = app_module.install_health

    def health_and_more(app: FastAPI, store: object) -> None:
        install_health(app, store)  # type: ignore[arg-type]
        app.add_api_route("/forgotten", _ok, methods=["GET"])

    monkeypatch.setattr(app_module, "install_health", health_and_more)
    with (
        pytest.raises(UndeclaredRoute, match="/forgotten"),
        in_process(tmp_path, auth=False),
    ):
        pass


def test_undeclared_or_badly_declared_routes_are_refused() -> None:
    app = FastAPI(openapi_url=None)
    app.mount("/files", _ok)  # type: ignore[arg-type]
    with pytest.raises(UndeclaredRoute, match="/files"):
        RouteTable(app.routes)

    app = FastAPI(openapi_url=None)
    add_route(app, "/no-account-here", _ok, access=READ_KEY, methods=["GET"])
    with pytest.raises(UndeclaredRoute, match="no path parameter 'accountId'"):
        RouteTable(app.routes)

    # Account routes check the key in their handler too: only add_route makes them.
    with pytest.raises(ValueError, match="add_route"):
        declare(app.routes[0], READ_KEY)
    assert RouteTable([]).find("GET", "/") == Need(ANY_KEY)
