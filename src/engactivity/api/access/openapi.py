"""Authentication in the OpenAPI description: the schemes, and which operations need them.

Which operations need which credentials is read from the routes' declarations
(access.py), the ones the middleware enforces, so the description cannot promise an
open endpoint that is not, or miss one added later. The description is the same
whether or not authentication is on (``--insecure-no-auth`` is for local experiments),
and is itself open: FastAPI's description pages are declared ``OPEN`` here.

OpenAPI has no OAuth 1.0a scheme type (its ``oauth2`` is another protocol), so OAuth
1.0a is declared as what it looks like on the wire, an ``apiKey`` in the
``Authorization`` header, and its description says how that header is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from engactivity.api.access.routes import access_of, declare
from engactivity.auth.access import OPEN, Access

BEARER = "bearerKey"
OAUTH1 = "oauth1"
METRICS_TOKEN = "metricsToken"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "ea_<key id>_<secret>, or a login session's 64 hex digits",
        "description": "A bearer key made with `engactivity keys create --kind bearer`: "
        "`Authorization: Bearer ea_...`. A key belongs to one account and has the `read` "
        "scope (engactivity queries), `write` (ingestion) or both. The `bearer` of a "
        "login (`POST /api/account/{accountId}/login`) works too, as a read key of its "
        "account, until logout or the session's idle time.",
    },
    OAUTH1: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "OAuth 1.0a (RFC 5849), as the hosted API: the request is signed "
        "with HMAC-SHA1 or HMAC-SHA256 using the app key and secret and the access token "
        "and secret of a key made with `engactivity keys create` (the default kind), and "
        'sent as `Authorization: OAuth oauth_consumer_key="...", oauth_token="...", '
        'oauth_signature_method="HMAC-SHA1", oauth_timestamp="...", oauth_nonce="...", '
        'oauth_signature="..."` (or with the same parameters in the query string). Use an '
        "OAuth 1.0a client library: the header is not a fixed value. Each nonce is "
        "accepted once; timestamps within 10 minutes of the server's clock.",
    },
    METRICS_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "The token given with `--metrics-token`, as `Authorization: Bearer "
        "<token>`. Without `--metrics-token`, /metrics is open when the server listens "
        "on loopback only and refused otherwise.",
    },
}

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def declared_operations(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], Access]:
    """(path template, lower-case method) -> access, for every described operation."""
    found: dict[tuple[str, str], Access] = {}
    for route in routes:
        access = access_of(route)
        if isinstance(route, APIRoute) and route.include_in_schema and access is not None:
            for method in route.methods or ():
                found[(route.path_format, method.lower())] = access
    return found


def add_security(description: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Declare the schemes and put them on every operation whose route needs a key."""
    description.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    declared = declared_operations(routes)
    for path, operations in description.get("paths", {}).items():
        for method, operation in operations.items():
            _describe(operation, declared[(path, method)])


def _describe(operation: dict[str, Any], access: Access) -> None:
    if access.kind == "open":
        return
    if access.kind == "metrics":
        operation["security"] = [{METRICS_TOKEN: []}]
    else:
        operation["security"] = [{BEARER: []}, {OAUTH1: []}]  # either one
    responses = operation.setdefault("responses", {})
    responses.setdefault("401", _error("Credentials missing or not valid"))
    if access.kind == "account":
        responses.setdefault(
            "403", _error(f"The key is of another account or lacks the {access.scope} scope")
        )


def declare_description_open(app: FastAPI) -> None:
    """FastAPI's own routes (the description and its pages) are open: the API's
    description is public."""
    pages = {app.openapi_url, app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url}
    for route in app.routes:
        if isinstance(route, Route) and not isinstance(route, APIRoute) and route.path in pages:
            declare(route, OPEN)


def describe_security(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so /openapi.json and /docs) include the security, and
    declare the description's own routes open."""
    declare_description_open(app)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            described = build()
            add_security(described, app.routes)
            app.openapi_schema = described
            return described
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
