"""Which declaration a request falls under, found before routing (for the middleware).

Built once, after every route is added, from the routes' own path regexes, and
matched the way the router matches: the first route whose path and method match,
else the first whose path matches (the router answers 405 after authentication), else
``ANY_KEY`` (a 404 tells nothing to a caller without a key).

Matching the dozen regexes costs 1 to 3 µs; answers are cached by method and path
(0.1 µs), for method and path of at most ``MAX_CACHED`` characters, in a cache emptied
when it holds ``cache_size`` of them: at most about a megabyte, whatever is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# The router's own reading of the path (root_path removed): the same path it matches.
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Mount, Route

from engactivity.api.access.routes import access_of
from engactivity.api.requestlog import Scope
from engactivity.auth.access import ANY_KEY, Access


class UndeclaredRoute(RuntimeError):
    """A route says nothing of what it needs: the app must not start."""


@dataclass(frozen=True, slots=True)
class Need:
    access: Access
    account: str | None = None
    """Account routes: the account the path names."""


_UNMATCHED = Need(ANY_KEY)
MAX_CACHED = 256


@dataclass(frozen=True, slots=True)
class _Entry:
    regex: re.Pattern[str]
    methods: frozenset[str] | None
    access: Access

    def need(self, match: re.Match[str]) -> Need:
        param = self.access.param
        return Need(self.access, match.group(param) if param else None)


class RouteTable:
    def __init__(self, routes: Sequence[BaseRoute], cache_size: int = 4096) -> None:
        self._entries = tuple(_entry(route) for route in routes)
        self._cache: dict[tuple[str, str], Need] = {}
        self._cache_size = cache_size

    def need(self, scope: Scope) -> Need:
        key = (scope["method"], get_route_path(scope))
        found = self._cache.get(key)
        if found is None:
            found = self.find(*key)
            if len(key[0]) + len(key[1]) <= MAX_CACHED:
                if len(self._cache) >= self._cache_size:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def find(self, method: str, path: str) -> Need:
        partial: Need | None = None
        for entry in self._entries:
            match = entry.regex.match(path)
            if match is None:
                continue
            if entry.methods is None or method in entry.methods:
                return entry.need(match)
            if partial is None:
                partial = entry.need(match)
        return partial or _UNMATCHED


def _entry(route: BaseRoute) -> _Entry:
    if not isinstance(route, Route | Mount):
        raise UndeclaredRoute(f"{route!r}: only Route and Mount routes can declare access")
    access = access_of(route)
    if access is None:
        raise UndeclaredRoute(
            f"route {route.path} ({route.name}) does not declare what it needs: "
            "add it with engactivity.auth.access.add_route (or declare it)"
        )
    if access.param is not None and access.param not in route.param_convertors:
        raise UndeclaredRoute(f"route {route.path} has no path parameter {access.param!r}")
    methods = frozenset(route.methods) if isinstance(route, Route) and route.methods else None
    return _Entry(route.path_regex, methods, access)
