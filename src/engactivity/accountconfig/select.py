"""``select=``: which fields of each entity an answer holds. Pure.

The reference's dialect (YOGA's "gdata"): field names separated by commas, a field's
own fields in parentheses (``id,name,memberOf(agentGroupId)``); ``$all`` (or ``*``)
stands for every field of its level. A field an entity does not have is left out, no
error. There is no library for this dialect, so it is parsed here: it is names,
commas and parentheses, nothing more.
"""

from __future__ import annotations

import re

from engactivity.core.problems import InvalidRequest, Problem

Selection = dict[str, "Selection"] | None
"""The fields to keep, each with its own selection; None keeps every field."""

SELECT_ALLOWED = (
    "field names separated by commas, a field's own fields in parentheses "
    "(id,name,memberOf(agentGroupId)); $all for every field"
)
_ALL = frozenset({"$all", "*"})
_TOKENS = re.compile(r"[(),]|[^(),]+")


def parse_select(text: str | None, default: tuple[str, ...] | None) -> Selection:
    """The selection ``text`` asks for; ``default`` (None: every field) when it is empty."""
    if text is None or not text.strip():
        return None if default is None else dict.fromkeys(default)
    tokens = [t.strip() for t in _TOKENS.findall(text)]
    selection, end = _fields(tokens, 0)
    if end != len(tokens):
        raise _invalid(f"select has an unmatched ')' in {text!r}")
    return selection


def _fields(tokens: list[str], at: int) -> tuple[Selection, int]:
    """The fields from ``tokens[at]`` up to a ')' or the end; and where they stop."""
    selection: dict[str, Selection] = {}
    every = False
    while at < len(tokens) and tokens[at] != ")":
        name = tokens[at]
        if name in ("(", ","):
            if name == "(":
                raise _invalid("select has a '(' that follows no field name")
            at += 1
            continue
        at += 1
        sub: Selection = None
        if at < len(tokens) and tokens[at] == "(":
            sub, at = _fields(tokens, at + 1)
            if at >= len(tokens):
                raise _invalid(f"select has an unclosed '(' after {name!r}")
            at += 1
        if name in _ALL:
            every = True
        elif name:
            selection[name] = sub
    return (None if every else selection), at


def project(value: dict[str, object], selection: Selection) -> dict[str, object]:
    """``value`` with only the selected fields (in ``value``'s order)."""
    if selection is None:
        return value
    out: dict[str, object] = {}
    for name, item in value.items():
        if name in selection:
            out[name] = _project_any(item, selection[name])
    return out


def _project_any(item: object, selection: Selection) -> object:
    if isinstance(item, dict):
        return project(item, selection)
    if isinstance(item, list):
        return [_project_any(x, selection) for x in item]
    return item


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest([Problem("select", message, SELECT_ALLOWED)])
