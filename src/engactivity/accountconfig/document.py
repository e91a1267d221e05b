"""The configuration document the platform writes, and its validation. Pure.

```
{"skills":      [{"id": 1, "name": "Sales"}, {"id": 9, "deleted": true}],
 "users":       [{"id": 1001, "loginName": "ana.silva", "fullName": "Ana Silva",
                  "skillIds": [1, 2], "memberOf": {"agentGroupId": 1}}],
 "agentGroups": [{"id": 1, "name": "Lisbon"}],
 "replace":     false}
```

Every array is optional. Each entity is given whole: the fields it holds are those sent
(a field left out, or ``null``, is not set), so sending the same entity twice changes
nothing. ``"deleted": true`` marks it deleted; with nothing but its id it keeps what
is stored. With ``"replace": true``, the entities of each array given that the document
does not name are marked deleted. Every problem is reported, each naming its field
(``skills[2].name``) and what is allowed; nothing of a document with a problem is
stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import orjson

from engactivity.accountconfig.kinds import KINDS, READ_ONLY, Id, Kind
from engactivity.core.problems import InvalidRequest, Problem

MAX_PROBLEMS = 100
"""A 400 lists at most this many problems (a large document may have many)."""

DOCUMENT_ALLOWED = (
    'a JSON object {"skills": [...], "users": [...], "agentGroups": [...], "replace": false}'
)
_TOP_LEVEL = (*(kind.key for kind in KINDS), "replace")
_ID_ALLOWED = "a 64-bit integer"


@dataclass(frozen=True)
class Item:
    """One entity of a document."""

    id: int
    deleted: bool
    body: dict[str, object] | None
    """Its fields (normalized, in declared order); None: the id alone, to be deleted."""
    index: int
    """Its position in its array."""


@dataclass(frozen=True)
class Document:
    items: dict[str, list[Item]]
    """By kind key (``skills``, ``users``, ``agentGroups``), the arrays the document has."""
    replace: bool = False

    def count(self) -> int:
        return sum(len(items) for items in self.items.values())


def parse_document(body: bytes) -> Document:
    """The document in ``body``, or InvalidRequest listing its problems."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            [Problem("body", f"the body is not valid JSON ({exc})", DOCUMENT_ALLOWED)]
        ) from exc
    if not isinstance(raw, dict):
        raise InvalidRequest([Problem("body", "the body must be a JSON object", DOCUMENT_ALLOWED)])
    problems: list[Problem] = []
    for key in raw:
        if key not in _TOP_LEVEL:
            problems.append(
                Problem(
                    key, f"{key!r} is not part of a configuration document", ", ".join(_TOP_LEVEL)
                )
            )
    replace = raw.get("replace")
    if replace not in (None, True, False):
        problems.append(Problem("replace", "replace must be true or false", "true or false"))
    items: dict[str, list[Item]] = {}
    for kind in KINDS:
        value = raw.get(kind.key)
        if value is None:
            continue
        if not isinstance(value, list):
            allowed = f"an array of {kind.noun} objects"
            problems.append(Problem(kind.key, f"{kind.key} must be an array", allowed))
            continue
        items[kind.key] = _items(kind, value, problems)
    if problems:
        raise InvalidRequest(problems[:MAX_PROBLEMS])
    return Document(items, replace is True)


def _items(kind: Kind, values: list[object], problems: list[Problem]) -> list[Item]:
    items: list[Item] = []
    seen: set[int] = set()
    for index, raw in enumerate(values):
        path = f"{kind.key}[{index}]"
        if not isinstance(raw, dict):
            problems.append(Problem(path, f"each {kind.noun} must be a JSON object", "an object"))
            continue
        item = _item(kind, raw, path, index, problems)
        if item is None:
            continue
        if item.id in seen:
            message = f"id {item.id} is given twice in {kind.key}"
            problems.append(Problem(f"{path}.id", message, "each id at most once per array"))
        seen.add(item.id)
        items.append(item)
    return items


def _item(
    kind: Kind, raw: dict[str, object], path: str, index: int, problems: list[Problem]
) -> Item | None:
    """The entity, or None after adding its problems."""
    before = len(problems)
    entity_id = raw.get("id")
    if not _fits_id(entity_id):
        problems.append(Problem(f"{path}.id", "id is missing or invalid", _ID_ALLOWED))
    deleted = raw.get("deleted")
    if deleted not in (None, True, False):
        problems.append(
            Problem(f"{path}.deleted", "deleted must be true or false", "true or false")
        )
    body: dict[str, object] = {}
    for name, value in raw.items():
        if name in ("id", "deleted") or name in READ_ONLY or value is None:
            continue
        field = kind.field(name)
        if field is None:
            message = f"{name} is not a field of a {kind.noun}"
            problems.append(Problem(f"{path}.{name}", message, kind.field_names))
            continue
        try:
            body[name] = field.convert(value)
        except msgspec.ValidationError:
            problems.append(Problem(f"{path}.{name}", f"{name} is invalid", field.allowed))
    # A deletion by id alone needs nothing else; any other entity needs its required fields.
    if deleted is not True or body:
        for field in kind.fields:
            if field.required and raw.get(field.name) is None:
                message = f"{field.name} is missing"
                problems.append(Problem(f"{path}.{field.name}", message, field.allowed))
    if len(problems) > before:
        return None
    ordered = {f.name: body[f.name] for f in kind.fields if f.name in body}
    assert isinstance(entity_id, int)
    return Item(entity_id, deleted is True, ordered or None, index)


def _fits_id(value: object) -> bool:
    try:
        msgspec.convert(value, Id)
    except msgspec.ValidationError:
        return False
    return True
