"""Stored entities as the reference's JSON: ``id``, ``deleted``, the entity's fields and
``dateUpdated`` (``YYYY-MM-DD hh:mm:ss``, UTC), cut to the selection. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from engactivity.accountconfig.select import Selection, project
from engactivity.accountconfig.store import Row


def entity(row: Row) -> dict[str, object]:
    fields: dict[str, object] = orjson.loads(row.body)
    return {"id": row.id, "deleted": row.deleted, **fields, "dateUpdated": date_updated(row)}


def date_updated(row: Row) -> str:
    return datetime.fromtimestamp(row.updated_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_list(rows: list[Row], selection: Selection) -> bytes:
    return orjson.dumps([project(entity(row), selection) for row in rows])


def render_one(row: Row, selection: Selection) -> bytes:
    return orjson.dumps(project(entity(row), selection))
