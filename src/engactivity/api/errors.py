"""JSON error bodies. Every error the service returns has this one shape:

``{"error": <code>, "message": <text>, ...details}``; 400s add ``field`` and
``allowed`` for the first problem and ``problems`` listing all of them.

``error_response`` is the one place they are made (``error_body`` for the HTTP
protocol below the app, which writes bytes): routes return it, the exception
handlers below return it, and the ASGI middlewares send it (a Starlette Response is
an ASGI app: ``await response(scope, receive, send)``). This module imports nothing
of the HTTP layer or of authentication, so any of them can use it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from engactivity.core.problems import InvalidRequest, Problem
from engactivity.store import StoreUnavailable

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> Response:
    """An error answer: ``{"error": code, "message": message, **extra}`` as JSON."""
    body = error_body(code, message, **extra)
    return Response(body, status, headers=headers, media_type="application/json")


def error_body(code: str, message: str, **extra: object) -> bytes:
    """The JSON of an error answer; also written by the HTTP protocol (api/protocol.py)."""
    return orjson.dumps({"error": code, "message": message, **extra})


def invalid_response(problems: list[Problem]) -> Response:
    return Response(invalid_body(problems), 400, media_type="application/json")


def invalid_body(problems: list[Problem]) -> bytes:
    """The JSON of a 400 ``invalid_request``; also printed by ``config import --json``."""
    first = problems[0]
    return error_body(
        "invalid_request",
        first.message if len(problems) == 1 else f"{first.message} (and {len(problems) - 1} more)",
        field=first.field,
        allowed=first.allowed,
        problems=[p.as_json() for p in problems],
    )


def store_unavailable_response() -> Response:
    """503 ``store_unavailable``: the store (or the key store) did not answer; retry."""
    return error_response(
        503,
        "store_unavailable",
        "the store is not available; try again shortly",
        headers={"Retry-After": "1"},
    )


_STATUS_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidRequest)
    async def on_invalid(request: Request, exc: InvalidRequest) -> Response:
        return invalid_response(exc.problems)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            Problem(str(err.get("loc", ["?"])[-1]), str(err.get("msg", "invalid")), "see /docs")
            for err in exc.errors()
        ] or [Problem("request", "invalid request", "see /docs")]
        return invalid_response(problems)

    @app.exception_handler(StoreUnavailable)
    async def on_store(request: Request, exc: StoreUnavailable) -> Response:
        log.warning("store unavailable: %s", exc)
        return store_unavailable_response()

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; it has been logged")
