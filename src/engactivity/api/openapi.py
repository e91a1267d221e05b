"""OpenAPI fragments the routes share, and those of the ingestion endpoint, whose body
the app reads by hand. Each method describes its own parameters and answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from engactivity.core.events import EVENT_TYPES, event_type

AccountId = Annotated[str, Path(description="The account id.", max_length=200)]

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "field": {"type": "string"},
        "allowed": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "object"}},
    },
}


def _json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _json_content(_ERROR, "A parameter is invalid"),
    429: _json_content(_ERROR, "Too many concurrent requests for this account; retry after 1 s"),
    503: _json_content(_ERROR, "The store is not available"),
}
"""The error answers of every method's query."""

_EVENT = {
    "type": "object",
    "required": ["eventId", "type", "time"],
    "properties": {
        "eventId": {"type": "string", "minLength": 1, "maxLength": 128},
        "type": {"type": "string", "enum": [event_type(cls) for cls in EVENT_TYPES]},
        "time": {
            "oneOf": [
                {"type": "integer", "format": "int64", "description": "epoch milliseconds"},
                {"type": "string", "description": "ISO-8601 with an offset or Z"},
            ]
        },
        "skillId": {"type": ["integer", "null"], "format": "int64"},
        "agentId": {"type": ["integer", "null"], "format": "int64"},
        "interactive": {"type": "boolean"},
        "handlingTime": {"type": "integer", "minimum": 0},
    },
}

EVENTS_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": _EVENT}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one event per line"}},
    },
}

EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json_content(
        {
            "type": "object",
            "properties": {
                "accepted": {"type": "integer"},
                "duplicates": {"type": "integer"},
                "expired": {"type": "integer"},
            },
        },
        "The batch is durable",
    ),
    400: _json_content(_ERROR, "Some events are invalid; nothing was stored"),
    413: _json_content(_ERROR, "The batch is over the configured limits"),
    503: _json_content(_ERROR, "The store is not available; nothing was stored"),
}
