"""Declaring what each route needs, where the route is added; and the account routes'
own check of the key.

A route is added with ``add_route(app, path, endpoint, access=..., **add_api_route
options)`` (``plain=True``: without FastAPI's parameter solving); a static app with
``mount(...)``; a route made by someone else (FastAPI's description pages) is declared
with ``declare(route, access)``. Deny by default: the
route table the middleware reads (``table.py``) refuses to be built while a route has
no declaration, so the app does not start.

The middleware checks the declaration before routing and records what it let through
(a ``Grant``) in the request's scope state. Account routes check that grant again
against their path parameter before the handler runs, so a key of another account
is refused even if the middleware matched another route or did not run at all.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, cast

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from engactivity.api.access.refusals import forbidden, log_refusal, unauthorized
from engactivity.api.requestlog import Scope
from engactivity.auth.access import Access, Grant

_STATE_KEY = "grant"


def record_grant(scope: Scope, grant: Grant) -> None:
    scope.setdefault("state", {})[_STATE_KEY] = grant


def grant_of(scope: Scope) -> Grant | None:
    state = scope.get("state")
    grant = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return grant if isinstance(grant, Grant) else None


def check_grant(scope: Scope, access: Access) -> Response | None:
    """The refusal when the recorded grant does not cover this account route, else None."""
    account = scope.get("path_params", {}).get(access.param)
    grant = grant_of(scope)
    if grant is None:
        # Only a bug gets here: the middleware did not run or matched another route.
        log_refusal(scope, "no credentials were checked", account, None, logging.ERROR)
        return unauthorized("credentials are required")
    if grant.allows(account, access.scope):
        return None
    log_refusal(scope, "forbidden", account, grant.key_id)
    return forbidden(account, access.scope)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def guarded(handler: Handler, access: Access) -> Handler:
    """``handler`` behind the route's own check of the grant (account routes)."""

    async def checked(request: Request) -> Response:
        refusal = check_grant(request.scope, access)
        return refusal if refusal is not None else await handler(request)

    return checked


class AccessRoute(APIRoute):
    """An API route that carries its access; made by ``add_route``."""

    access: ClassVar[Access]

    def get_route_handler(self) -> Handler:
        handler = self.unchecked_handler()
        return guarded(handler, self.access) if self.access.kind == "account" else handler

    def unchecked_handler(self) -> Handler:
        """The endpoint's handler before the account check: FastAPI's."""
        return super().get_route_handler()


class PlainAccessRoute(AccessRoute):
    """An API route whose endpoint is called with the request and the path's parameters
    as strings, and checks them itself: FastAPI's parameter solving, about a fifth of
    the CPU of a light answer, is skipped (the method routes, asked many times a second).
    FastAPI still reads the endpoint's signature, for the description."""

    def unchecked_handler(self) -> Handler:
        endpoint = self.endpoint

        async def plain(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return plain


@functools.cache
def _route_class(access: Access, plain: bool) -> type[AccessRoute]:
    base = PlainAccessRoute if plain else AccessRoute
    return cast(type[AccessRoute], type(base.__name__, (base,), {"access": access}))


def add_route(
    app: FastAPI,
    path: str,
    endpoint: Callable[..., Any],
    *,
    access: Access,
    plain: bool = False,
    **options: Any,
) -> None:
    """``app.add_api_route(path, endpoint, **options)``, declaring what the route needs;
    ``plain``: the endpoint takes the request and the path's parameters as strings
    (``PlainAccessRoute``)."""
    route_class = _route_class(access, plain)
    app.router.add_api_route(path, endpoint, route_class_override=route_class, **options)


def mount(app: FastAPI, path: str, asgi: ASGIApp, *, access: Access, name: str) -> None:
    """``app.mount(path, asgi, name)``, declaring what every path under it needs."""
    route = Mount(path, app=asgi, name=name)
    declare(route, access)
    app.router.routes.append(route)


def declare(route: BaseRoute, access: Access) -> None:
    """Declare the access of a route made elsewhere (not an account route: those are
    added with ``add_route``, whose handler checks the key again)."""
    if access.kind == "account":
        raise ValueError("account routes are added with add_route")
    route.access = access  # type: ignore[attr-defined]


def access_of(route: BaseRoute) -> Access | None:
    """The route's declared access; None when it has none."""
    access = getattr(route, "access", None)
    return access if isinstance(access, Access) else None
