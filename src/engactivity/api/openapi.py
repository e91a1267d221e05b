"""OpenAPI fragments for the endpoints whose bodies the app reads by hand."""

from __future__ import annotations

from typing import Any

from engactivity.query import IDS_ALLOWED, TIMEFRAME_ALLOWED

_METRICS = {
    "type": "object",
    "properties": {
        key: {"type": "integer", "format": "int64"}
        for key in (
            "totalInteractiveChats",
            "totalNonInteractiveChats",
            "totalHandlingTime",
            "nonInteractiveTotalHandlingTime",
            "connectedEngagements",
        )
    },
}
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


def _query_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


# The query parameters of the GET query, described here rather than declared to
# FastAPI: the app parses them itself (query.py), and FastAPI's own parsing of five
# parameters cost about a fifth of the time of a cached answer.
ENGACTIVITY_PARAMETERS = [
    _query_parameter("timeframe", f"Required: {TIMEFRAME_ALLOWED}."),
    _query_parameter("v", "Required: API version, 1."),
    _query_parameter("skillIds", f"Optional: {IDS_ALLOWED}."),
    _query_parameter("agentIds", f"Optional: {IDS_ALLOWED}."),
    _query_parameter(
        "interval", "Optional: minutes per interval, 5..timeframe, dividing timeframe."
    ),
]


def _json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ENGACTIVITY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json_content(
        {
            "type": "object",
            "description": "metricsTotals, skillsMetricsPerAgent and/or agentsMetrics, "
            "preceded by metricsByIntervals when interval is given.",
            "properties": {
                "metricsTotals": _METRICS,
                "metricsByIntervals": {"type": "array", "items": {"type": "object"}},
                "skillsMetricsPerAgent": {"type": "object"},
                "agentsMetrics": {"type": "object"},
            },
        },
        "The metrics",
    ),
    400: _json_content(_ERROR, "A parameter is invalid"),
    429: _json_content(_ERROR, "Too many concurrent requests for this account; retry after 1 s"),
    503: _json_content(_ERROR, "The store is not available"),
}

_ID_LIST = {
    "oneOf": [
        {"type": "string", "description": "'all' or comma separated integers"},
        {"type": "integer", "format": "int64"},
        {"type": "array", "items": {"type": "integer", "format": "int64"}},
    ]
}
_NUMBER_OR_STRING = {"oneOf": [{"type": "integer"}, {"type": "string"}]}

ENGACTIVITY_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "timeframe": _NUMBER_OR_STRING,
                    "v": _NUMBER_OR_STRING,
                    "interval": _NUMBER_OR_STRING,
                    "skillIds": _ID_LIST,
                    "agentIds": _ID_LIST,
                },
            }
        }
    },
}

_EVENT = {
    "type": "object",
    "required": ["eventId", "type", "time"],
    "properties": {
        "eventId": {"type": "string", "minLength": 1, "maxLength": 128},
        "type": {"type": "string", "enum": ["connected", "closed"]},
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
