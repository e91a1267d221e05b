"""The app's composition: the order its router tries the routes in."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from engactivity.api.queries import QUERY_PREFIX
from engactivity.methods import METHODS
from tests.auth.apphelp import call, in_process


def test_the_methods_routes_are_tried_first_and_every_other_route_still_answers(
    tmp_path: Path,
) -> None:
    with in_process(tmp_path) as served:
        routes = served.app.router.routes
        queries = [
            (route.path, sorted(route.methods or ()))
            for route in routes[: 2 * len(METHODS)]
            if isinstance(route, Route)
        ]
        expected = [
            (f"{QUERY_PREFIX}{{accountId}}/{method.name}", [verb])
            for method in METHODS
            for verb in ("GET", "POST")
        ]
        assert queries == expected
        rest = routes[2 * len(METHODS) :]
        assert not any(getattr(route, "path", "").startswith(QUERY_PREFIX) for route in rest)
        assert call(served.app, "GET", "/healthz").status_code == 200
        assert call(served.app, "GET", "/wallboard/").status_code == 200
        document = call(served.app, "GET", "/openapi.json").json()
        assert {"/healthz", "/metrics", "/api/v1/accounts/{accountId}/events"} <= set(
            document["paths"]
        )
        read = served.bearer("acme", "read")
        asked = f"{QUERY_PREFIX}acme/queuestate?skillIds=1&v=1"
        assert call(served.app, "GET", asked, headers=read).status_code == 200
