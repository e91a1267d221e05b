"""The ingestion contract (EVENTS.md): decoding and validating event batches. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson

from engactivity.metrics import Counters, closed, connected
from engactivity.problems import Problem
from engactivity.query import INT64_MAX, INT64_MIN

MAX_EVENT_ID_CHARS = 128
MAX_HANDLING_TIME = 2**31 - 1
"""Seconds (68 years); bounds the sums so they always fit a 64-bit counter."""
MAX_FUTURE_MS = 5 * 60_000
"""Events further ahead of the server clock than this are refused."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_ISO_HINT = re.compile(r"\d{4}-?\d{2}-?\d{2}[T ]")


UNPARSABLE = object()
"""Stands in a decoded batch for an NDJSON line that was not JSON (already reported)."""

_BODY_ALLOWED = "a JSON array of event objects, or NDJSON (one event object per line)"


class Event(NamedTuple):
    """A valid event, reduced to what the metrics need (a tuple: cheap to make)."""

    event_id: str
    time_ms: int
    skill_id: int
    agent_id: int | None
    counters: Counters


def decode_batch(body: bytes, ndjson: bool) -> tuple[list[object], list[Problem]]:
    """Split a request body into raw events; lines that are not JSON become problems.

    A JSON body must be an array of events (a single object is taken as a batch of
    one); an NDJSON body holds one event per non-blank line.
    """
    if not ndjson:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return [], [Problem("body", f"the body is not valid JSON ({exc})", _BODY_ALLOWED)]
        if isinstance(parsed, dict):
            return [parsed], []
        if not isinstance(parsed, list):
            return [], [Problem("body", "the body must be a JSON array of events", _BODY_ALLOWED)]
        return parsed, []
    items: list[object] = []
    problems: list[Problem] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            problems.append(
                Problem(
                    "event", "this line is not valid JSON", "one JSON object per line", len(items)
                )
            )
            items.append(UNPARSABLE)
    return items, problems


def parse_time(value: object) -> int | None:
    """Epoch milliseconds from an integer or an ISO-8601 string with an offset."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _ISO_HINT.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        try:
            return (moment - _EPOCH) // _ONE_MS
        except OverflowError:
            return None
    return None


def _int64(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    return None


_CONNECTED = connected()


def _fast_event(raw: dict[str, Any], now_ms: int) -> Event | None:
    """The usual well-formed event, checked with few operations; None for anything else.

    Accepts exactly a subset of what validate_event accepts, with the same result
    (a property test holds the two together); everything else takes the full path,
    which also explains what is wrong.
    """
    event_id = raw.get("eventId")
    time_ms = raw.get("time")
    if (
        type(event_id) is not str
        or not 0 < len(event_id) <= MAX_EVENT_ID_CHARS
        or type(time_ms) is not int
        or time_ms > now_ms + MAX_FUTURE_MS
    ):
        return None
    skill = raw.get("skillId")
    agent = raw.get("agentId")
    if skill is None:
        skill = -1
    elif type(skill) is not int or not INT64_MIN <= skill <= INT64_MAX:
        return None
    if agent is not None and (type(agent) is not int or not INT64_MIN <= agent <= INT64_MAX):
        return None
    kind = raw.get("type")
    interactive = raw.get("interactive")
    handling = raw.get("handlingTime")
    if kind == "connected":
        if agent is None or interactive is not None or handling is not None:
            return None
        return Event(event_id, time_ms, skill, agent, _CONNECTED)
    if kind == "closed" and type(interactive) is bool:
        if handling is None:
            handling = 0
        elif type(handling) is not int or not 0 <= handling <= MAX_HANDLING_TIME:
            return None
        return Event(event_id, time_ms, skill, agent, closed(interactive, handling))
    return None


def validate_event(raw: object, index: int, now_ms: int) -> Event | list[Problem]:
    """The event, or every problem with it."""
    if type(raw) is dict and (fast := _fast_event(raw, now_ms)) is not None:
        return fast
    return _validate_fully(raw, index, now_ms)


def _validate_fully(raw: object, index: int, now_ms: int) -> Event | list[Problem]:
    if not isinstance(raw, dict):
        return [Problem("event", "each event must be a JSON object", "a JSON object", index)]
    problems: list[Problem] = []

    def bad(field: str, message: str, allowed: str) -> None:
        problems.append(Problem(field, message, allowed, index))

    event_id = raw.get("eventId")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= MAX_EVENT_ID_CHARS:
        bad(
            "eventId",
            "eventId is missing or invalid",
            f"a string of 1 to {MAX_EVENT_ID_CHARS} characters",
        )

    kind = raw.get("type")
    if kind not in ("connected", "closed"):
        bad("type", "type is missing or invalid", "'connected' or 'closed'")

    time_ms = parse_time(raw.get("time"))
    if time_ms is None:
        bad(
            "time",
            "time is missing or invalid",
            "integer epoch milliseconds, or an ISO-8601 string with an offset or Z",
        )
    elif time_ms > now_ms + MAX_FUTURE_MS:
        bad(
            "time",
            "time is more than 5 minutes ahead of the server clock",
            "a time up to 5 minutes ahead of now",
        )

    skill_id = -1
    if raw.get("skillId") is not None:
        checked = _int64(raw["skillId"])
        if checked is None:
            bad("skillId", "skillId is invalid", "a 64-bit integer, or null/absent for no skill")
        else:
            skill_id = checked

    agent_id: int | None = None
    if raw.get("agentId") is not None:
        agent_id = _int64(raw["agentId"])
        if agent_id is None:
            bad("agentId", "agentId is invalid", "a 64-bit integer")
    elif kind == "connected":
        bad("agentId", "agentId is required for a connected event", "a 64-bit integer")

    interactive = raw.get("interactive")
    handling = raw.get("handlingTime")
    counters: Counters | None = None
    if kind == "connected":
        if interactive is not None:
            bad("interactive", "interactive is not allowed on a connected event", "absent")
        if handling is not None:
            bad("handlingTime", "handlingTime is not allowed on a connected event", "absent")
        counters = connected()
    elif kind == "closed":
        if not isinstance(interactive, bool):
            bad("interactive", "interactive is required for a closed event", "true or false")
        seconds = 0 if handling is None else _int64(handling)
        if seconds is None or not 0 <= seconds <= MAX_HANDLING_TIME:
            bad(
                "handlingTime",
                "handlingTime is invalid",
                f"an integer from 0 to {MAX_HANDLING_TIME} (seconds)",
            )
        elif isinstance(interactive, bool):
            counters = closed(interactive, seconds)

    if problems:
        return problems
    assert isinstance(event_id, str) and time_ms is not None and counters is not None
    return Event(event_id, time_ms, skill_id, agent_id, counters)


# -- the fast path for whole batches ---------------------------------------------------
#
# A batch of plain events is decoded and type-checked in one pass by msgspec, straight
# into typed structs, instead of orjson building a dict per event and Python checking
# each field. It accepts a subset of what decode_batch + validate_batch accept, with
# the same events (a property test holds them together): anything it does not take,
# from an unknown field to an ISO time to a malformed body, makes the caller take the
# full path, which also explains every problem.

_Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
_EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_ID_CHARS)]
_Seconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_HANDLING_TIME)]


# Field names are the wire names; a tag picks the struct by the event's "type".
class _Connected(
    msgspec.Struct, tag_field="type", tag="connected", forbid_unknown_fields=True, gc=False
):
    eventId: _EventId
    time: _Int64
    agentId: _Int64
    skillId: _Int64 | None = None
    interactive: None = None
    handlingTime: None = None


class _Closed(msgspec.Struct, tag_field="type", tag="closed", forbid_unknown_fields=True, gc=False):
    eventId: _EventId
    time: _Int64
    interactive: bool
    skillId: _Int64 | None = None
    agentId: _Int64 | None = None
    handlingTime: _Seconds | None = None


_decode_plain = msgspec.json.Decoder(list[_Connected | _Closed]).decode
_new_event = tuple.__new__
"""Builds an Event from one tuple without NamedTuple's Python-level __new__."""


def decode_plain_batch(body: bytes, now_ms: int) -> list[Event] | None:
    """The events of a JSON array of plain, valid events; None when it is anything else.

    None says nothing about validity: the caller then takes decode_batch and
    validate_batch, which decide.
    """
    try:
        items = _decode_plain(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        # ValueError: invalid UTF-8 in a string; RecursionError: deep nesting.
        return None
    latest = now_ms + MAX_FUTURE_MS
    events: list[Event] = []
    append = events.append
    for item in items:
        time_ms = item.time
        if time_ms > latest:
            return None
        skill = item.skillId
        if isinstance(item, _Connected):
            counters = _CONNECTED
        else:
            counters = closed(item.interactive, item.handlingTime or 0)
        append(
            _new_event(
                Event,
                (item.eventId, time_ms, -1 if skill is None else skill, item.agentId, counters),
            )
        )
    return events


def validate_batch(items: Sequence[object], now_ms: int) -> tuple[list[Event], list[Problem]]:
    """Validate every event of a batch; the batch is usable only if no problem is returned."""
    events: list[Event] = []
    problems: list[Problem] = []
    for index, raw in enumerate(items):
        if raw is UNPARSABLE:
            continue
        result = validate_event(raw, index, now_ms)
        if isinstance(result, Event):
            events.append(result)
        else:
            problems.extend(result)
    return events, problems
