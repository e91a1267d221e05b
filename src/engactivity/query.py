"""Parsing and validating engactivity request parameters (SEMANTICS.md section 6). Pure.

The same rules serve the GET query string (all values are strings) and the POST
JSON body (values may also be numbers, and id lists may be JSON arrays).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from engactivity.problems import InvalidRequest, Problem
from engactivity.timeframe import MAX_TIMEFRAME_MIN

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_IDS = 5000
"""Most ids one list may name; keeps a single request's work bounded."""

_INT_RE = re.compile(r"[+-]?[0-9]{1,40}")
"""A sign, then digits; 40 digits leave room for leading zeros yet keep ``int()`` cheap."""

ALL: Literal["all"] = "all"
Selection = Literal["all"] | frozenset[int] | None
"""An id filter: absent (None), every id (``"all"``), or the listed ids."""

TIMEFRAME_ALLOWED = f"an integer from 1 to {MAX_TIMEFRAME_MIN} (minutes)"
VERSION_ALLOWED = "1"
IDS_ALLOWED = (
    "'all', or 64-bit integers separated by commas (e.g. 4,15,3)"
    f", at most {MAX_IDS} of them; in a JSON body also an array of integers"
)


@dataclass(frozen=True, slots=True)
class EngActivityQuery:
    timeframe: int
    """Minutes, 1..1440."""
    interval: int | None
    """Minutes, or None for no intervals."""
    skills: Selection
    agents: Selection


def _as_int(value: object) -> int | None:
    """An integer from a query-string or JSON value, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    return None


def _is_empty(value: object) -> bool:
    """None, a blank string or an empty JSON array: all mean the parameter is absent."""
    return value is None or value == [] or (isinstance(value, str) and value.strip() == "")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_ids(name: str, value: object) -> Selection | Problem:
    def bad(detail: str) -> Problem:
        return Problem(name, f"{name}: {detail}", IDS_ALLOWED)

    if _is_empty(value):
        return None
    items: list[object]
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == ALL:
            return ALL
        items = [part.strip() for part in text.split(",")]
    elif isinstance(value, list):
        items = list(value)
        if any(isinstance(item, str) for item in items):
            return bad("a JSON array must hold integers, not strings")
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        return bad(f"{_show(value)} is not a list of ids")
    if len(items) > MAX_IDS:
        return bad(f"{len(items)} ids given, at most {MAX_IDS} are allowed")
    ids: set[int] = set()
    for item in items:
        number = _as_int(item)
        if number is None:
            return bad(f"{_show(item)} is not an integer id")
        if not INT64_MIN <= number <= INT64_MAX:
            return bad(f"{number} is outside the 64-bit integer range")
        ids.add(number)
    return frozenset(ids)


def parse_query(params: Mapping[str, object]) -> EngActivityQuery:
    """Validate request parameters; raise InvalidRequest listing every problem."""
    problems: list[Problem] = []

    version = params.get("v")
    if _is_empty(version):
        problems.append(Problem("v", "v is required", VERSION_ALLOWED))
    elif _as_int(version) != 1:
        problems.append(
            Problem("v", f"v={_show(version)} is not a supported version", VERSION_ALLOWED)
        )

    raw_timeframe = params.get("timeframe")
    timeframe = _as_int(raw_timeframe)
    if _is_empty(raw_timeframe):
        problems.append(Problem("timeframe", "timeframe is required", TIMEFRAME_ALLOWED))
        timeframe = None
    elif timeframe is None or not 1 <= timeframe <= MAX_TIMEFRAME_MIN:
        problems.append(
            Problem("timeframe", f"timeframe={_show(raw_timeframe)} is invalid", TIMEFRAME_ALLOWED)
        )
        timeframe = None

    interval: int | None = None
    raw_interval = params.get("interval")
    if not _is_empty(raw_interval):
        interval = _as_int(raw_interval)
        if timeframe is None:
            allowed = "an integer number of minutes, at least 5, dividing timeframe"
        else:
            allowed = (
                f"an integer from 5 to timeframe ({timeframe}) that divides it exactly, "
                "e.g. timeframe=60&interval=30"
            )
        if (
            interval is None
            or interval < 5
            or (timeframe is not None and (interval > timeframe or timeframe % interval != 0))
        ):
            problems.append(
                Problem("interval", f"interval={_show(raw_interval)} is invalid", allowed)
            )
            interval = None

    selections: dict[str, Selection] = {}
    for name in ("skillIds", "agentIds"):
        parsed = _parse_ids(name, params.get(name))
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            selections[name] = parsed

    if problems:
        raise InvalidRequest(problems)
    assert timeframe is not None
    return EngActivityQuery(
        timeframe=timeframe,
        interval=interval,
        skills=selections["skillIds"],
        agents=selections["agentIds"],
    )
