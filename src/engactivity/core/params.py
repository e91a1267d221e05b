"""Request parameters shared by every method (SEMANTICS.md section 6). Pure.

The same rules serve the GET query string (all values are strings) and the POST
JSON body (values may also be numbers, and id lists may be JSON arrays). A method
reads its parameters through a :class:`ParamReader`, which collects every problem so
that one 400 lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from engactivity.core.problems import InvalidRequest, Problem
from engactivity.core.timeframe import MAX_TIMEFRAME_MIN

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
INTERVAL_ALLOWED = "minutes per interval, 5..timeframe, dividing timeframe"


def as_int(value: object) -> int | None:
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


def is_empty(value: object) -> bool:
    """None, a blank string or an empty JSON array: all mean the parameter is absent."""
    return value is None or value == [] or (isinstance(value, str) and value.strip() == "")


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def list_items(value: object, noun: str) -> list[object] | str:
    """The items of a comma-separated string, a JSON array of numbers or one integer; or
    what is wrong with ``value`` (``noun``: what the list holds, for the message)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list):
        if any(isinstance(item, str) for item in value):
            return "a JSON array must hold integers, not strings"
        return list(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return f"{show(value)} is not a list of {noun}"


def parse_ids(name: str, value: object) -> Selection | Problem:
    """An id filter (``skillIds``, ``agentIds``...), or the problem with it."""
    if is_empty(value):
        return None
    if isinstance(value, str) and value.strip().lower() == ALL:
        return ALL
    if isinstance(value, str):
        fast = _plain_ids(value)
        if fast is not None:
            return fast
    return ids_of(name, value)


def _plain_ids(value: str) -> frozenset[int] | None:
    """The ids of a list that holds no problem, read in one pass (a list of 500 ids is
    a third of a millisecond item by item); None sends it to :func:`ids_of`. ``int()``
    takes what an item may be once stripped (ASCII here: no other digits or spaces), and
    also ``_`` and more than 40 digits, which are kept out beforehand."""
    parts = value.split(",")
    if not value.isascii() or "_" in value or len(parts) > MAX_IDS:
        return None
    if max(map(len, parts)) > 40:
        return None
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        return None
    if min(numbers) >= INT64_MIN and max(numbers) <= INT64_MAX:
        return frozenset(numbers)
    return None


def ids_of(name: str, value: object) -> Selection | Problem:
    """:func:`parse_ids` item by item, for any list it takes: the first problem found is
    the one reported."""

    def bad(detail: str) -> Problem:
        return Problem(name, f"{name}: {detail}", IDS_ALLOWED)

    items = list_items(value, "ids")
    if isinstance(items, str):
        return bad(items)
    if len(items) > MAX_IDS:
        return bad(f"{len(items)} ids given, at most {MAX_IDS} are allowed")
    ids: set[int] = set()
    for item in items:
        number = as_int(item)
        if number is None:
            return bad(f"{show(item)} is not an integer id")
        if not INT64_MIN <= number <= INT64_MAX:
            return bad(f"{number} is outside the 64-bit integer range")
        ids.add(number)
    return frozenset(ids)


class ParamReader:
    """Reads one request's parameters, collecting every problem on the way."""

    def __init__(self, params: Mapping[str, object]) -> None:
        self.params = params
        self.problems: list[Problem] = []

    def version(self) -> None:
        """``v``: required, 1."""
        version = self.params.get("v")
        if is_empty(version):
            self.problems.append(Problem("v", "v is required", VERSION_ALLOWED))
        elif as_int(version) != 1:
            self.problems.append(
                Problem("v", f"v={show(version)} is not a supported version", VERSION_ALLOWED)
            )

    def timeframe(self) -> int | None:
        """``timeframe``: required, 1..1440 minutes; None when it is wrong."""
        raw = self.params.get("timeframe")
        timeframe = as_int(raw)
        if is_empty(raw):
            self.problems.append(Problem("timeframe", "timeframe is required", TIMEFRAME_ALLOWED))
            return None
        if timeframe is None or not 1 <= timeframe <= MAX_TIMEFRAME_MIN:
            self.problems.append(
                Problem("timeframe", f"timeframe={show(raw)} is invalid", TIMEFRAME_ALLOWED)
            )
            return None
        return timeframe

    def interval(self, timeframe: int | None) -> int | None:
        """``interval``: optional; at least 5 minutes, dividing the timeframe."""
        raw = self.params.get("interval")
        if is_empty(raw):
            return None
        interval = as_int(raw)
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
            self.problems.append(Problem("interval", f"interval={show(raw)} is invalid", allowed))
            return None
        return interval

    def ids(self, name: str) -> Selection:
        """An optional id filter; None when absent (or wrong)."""
        parsed = parse_ids(name, self.params.get(name))
        if isinstance(parsed, Problem):
            self.problems.append(parsed)
            return None
        return parsed

    def required_ids(self, name: str) -> Selection:
        """A required id filter: absent, empty or null is a problem too."""
        if is_empty(self.params.get(name)):
            self.problems.append(Problem(name, f"{name} is required", IDS_ALLOWED))
            return None
        return self.ids(name)

    def finish(self) -> None:
        """Raise InvalidRequest listing every problem found, if any."""
        if self.problems:
            raise InvalidRequest(self.problems)
