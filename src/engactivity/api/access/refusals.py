"""The answers and the log line of a refused request, shared by the middleware and the
routes' own check (``routes.py``), so both refuse with the same words."""

from __future__ import annotations

import logging

from starlette.responses import Response

from engactivity.api.errors import error_response
from engactivity.api.requestlog import Scope, request_id_of
from engactivity.auth.keys import READ

log = logging.getLogger("engactivity.auth")

CHALLENGE = 'Bearer realm="engactivity", OAuth realm="engactivity"'


def unauthorized(message: str) -> Response:
    """401: credentials missing or not valid (the body never says which check failed)."""
    return error_response(401, "unauthorized", message, headers={"WWW-Authenticate": CHALLENGE})


def forbidden(account: str | None, scope: str | None) -> Response:
    """403: a good key of another account, or without the scope."""
    verb = "read" if scope == READ else "send events to"
    return error_response(403, "forbidden", f"this key may not {verb} account {account}")


def log_refusal(
    scope: Scope,
    reason: str,
    account: str | None,
    key_id: str | None,
    level: int = logging.INFO,
) -> None:
    log.log(
        level,
        "request refused: %s",
        reason,
        extra={
            "fields": {
                "request_id": request_id_of(scope),
                "path": scope.get("path", ""),
                "account": account,
                "key_id": key_id,
            }
        },
    )
