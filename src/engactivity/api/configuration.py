"""The account configuration over HTTP: the platform's write endpoint, and the read-only
endpoints clients of the hosted API call (``accountConfigReadOnly``), in its format.

- ``POST /api/v1/accounts/{accountId}/configuration``: a configuration document
  (accountconfig/document.py), with a write key;
- ``GET /api/account/{accountId}/configuration/le-users/{skills|users|agentGroups}``
  and ``.../{id}``, with a read key: ``select``, ``include_deleted``; every answer has
  the ``ac-revision`` header. ``v`` and other parameters are ignored.

Store calls run off the event loop (a large account's users are thousands of rows).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engactivity.accountconfig.document import parse_document
from engactivity.accountconfig.kinds import KINDS, Kind
from engactivity.accountconfig.render import render_list, render_one
from engactivity.accountconfig.select import SELECT_ALLOWED, parse_select
from engactivity.accountconfig.store import ConfigStore
from engactivity.api.access.routes import add_route
from engactivity.api.bodies import read_body
from engactivity.api.errors import error_response
from engactivity.api.openapi import AccountId
from engactivity.auth.access import READ_KEY, WRITE_KEY
from engactivity.clock import Clock
from engactivity.core.accounts import check_account_id
from engactivity.core.params import INT64_MAX, INT64_MIN
from engactivity.core.problems import InvalidRequest, Problem

REVISION_HEADER = "ac-revision"
READ_PREFIX = "/api/account/{accountId}/configuration/le-users"
WRITE_PATH = "/api/v1/accounts/{accountId}/configuration"
_ID = re.compile(r"[+-]?[0-9]{1,20}")


def install_configuration(app: FastAPI, configs: ConfigStore, clock: Clock, max_bytes: int) -> None:
    _install_write(app, configs, clock, max_bytes)
    for kind in KINDS:
        _install_reads(app, configs, kind)


def _install_write(app: FastAPI, configs: ConfigStore, clock: Clock, max_bytes: int) -> None:
    async def write(request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        body = await read_body(request, max_bytes)
        if body is None:
            message = f"a configuration document holds at most {max_bytes} bytes"
            return error_response(413, "payload_too_large", message, max_bytes=max_bytes)
        document = parse_document(body)
        applied = await run_in_threadpool(configs.apply, accountId, document, clock())
        return _json(orjson.dumps(applied.as_json()), applied.revision)

    add_route(
        app,
        WRITE_PATH,
        write,
        access=WRITE_KEY,
        methods=["POST"],
        tags=["configuration"],
        summary="Write skills, users and agent groups (bulk upsert; idempotent)",
        response_class=Response,
        responses=_WRITE_RESPONSES,
        openapi_extra={"requestBody": _DOCUMENT_BODY},
    )


def _install_reads(app: FastAPI, configs: ConfigStore, kind: Kind) -> None:
    async def listing(request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        query = request.query_params
        selection = parse_select(query.get("select"), kind.defaults)
        include = _flag(query.get("include_deleted"))
        found = await run_in_threadpool(configs.list, accountId, kind, include)
        return _json(render_list(found.rows, selection), found.revision)

    async def one(request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        entity_id = _entity_id(kind, request.path_params[kind.id_param])
        selection = parse_select(request.query_params.get("select"), None)
        found = await run_in_threadpool(configs.get, accountId, kind, entity_id)
        if not found.rows:
            message = f"{kind.noun} {entity_id} is not in the configuration of account {accountId}"
            return error_response(404, "not_found", message, headers=_revision(found.revision))
        return _json(render_one(found.rows[0], selection), found.revision)

    common: dict[str, Any] = {
        "access": READ_KEY,
        "methods": ["GET"],
        "tags": ["configuration"],
        "response_class": Response,
        "responses": _READ_RESPONSES,
    }
    defaults = ",".join(kind.defaults)
    add_route(
        app,
        f"{READ_PREFIX}/{kind.key}",
        listing,
        summary=f"The account's {kind.key} (default fields: {defaults})",
        openapi_extra={"parameters": _LIST_PARAMETERS},
        **common,
    )
    add_route(
        app,
        f"{READ_PREFIX}/{kind.key}/{{{kind.id_param}}}",
        one,
        summary=f"One {kind.noun}, every field; 404 when the account has none of this id",
        openapi_extra={"parameters": [_id_parameter(kind), _SELECT_PARAMETER]},
        **common,
    )


def _json(body: bytes, revision: int) -> Response:
    return Response(body, media_type="application/json", headers=_revision(revision))


def _revision(revision: int) -> dict[str, str]:
    return {REVISION_HEADER: str(revision)}


def _flag(text: str | None) -> bool:
    """``include_deleted``: true or false, in any case; absent or empty is false."""
    value = (text or "false").strip().lower()
    if value not in ("true", "false"):
        raise InvalidRequest(
            [
                Problem(
                    "include_deleted", f"include_deleted={text!r} is not allowed", "true or false"
                )
            ]
        )
    return value == "true"


def _entity_id(kind: Kind, text: str) -> int:
    if _ID.fullmatch(text) and INT64_MIN <= (value := int(text)) <= INT64_MAX:
        return value
    message = f"{kind.id_param} {text[:40]!r} is not an id"
    raise InvalidRequest([Problem(kind.id_param, message, "a 64-bit integer")])


# -- OpenAPI -----------------------------------------------------------------------------

_ERROR = {"type": "object", "required": ["error", "message"]}


def _content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_REVISION_HEADERS = {
    REVISION_HEADER: {
        "description": "The account configuration's revision (raised at every change)",
        "schema": {"type": "integer"},
    }
}
_READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        **_content({"type": ["array", "object"]}, "The entities, in the reference's format"),
        "headers": _REVISION_HEADERS,
    },
    400: _content(_ERROR, "A parameter is invalid"),
    404: _content(_ERROR, "No entity of this id"),
    503: _content(_ERROR, "The store is not available"),
}
_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _content(
        {
            "type": "object",
            "properties": {
                "revision": {"type": "integer"},
                "changed": {"type": "integer"},
                "unchanged": {"type": "integer"},
            },
        },
        "The document is stored (or changed nothing)",
    ),
    400: _content(_ERROR, "The document is invalid; nothing was stored"),
    413: _content(_ERROR, "The document is over --max-batch-bytes"),
    503: _content(_ERROR, "The store is not available; nothing was stored"),
}
_DOCUMENT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    **{kind.key: {"type": "array", "items": {"type": "object"}} for kind in KINDS},
                    "replace": {"type": "boolean"},
                },
            }
        }
    },
}
_SELECT_PARAMETER = {
    "name": "select",
    "in": "query",
    "required": False,
    "description": SELECT_ALLOWED,
    "schema": {"type": "string"},
}
_LIST_PARAMETERS = [
    _SELECT_PARAMETER,
    {
        "name": "include_deleted",
        "in": "query",
        "required": False,
        "description": "true adds the deleted entities",
        "schema": {"type": "boolean", "default": False},
    },
]


def _id_parameter(kind: Kind) -> dict[str, Any]:
    return {"name": kind.id_param, "in": "path", "required": True, "schema": {"type": "integer"}}
