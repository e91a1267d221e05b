"""The events producers send (EVENTS.md): their rules, stated once, and their decoding. Pure.

Each event type is one struct below: its fields, their types and ranges, which are
required, and (as each type's ``description``) what a producer may send. Everything
else is derived from these declarations:

- the wire classes that decode a plain JSON array of events in one pass, in C
  (``decode_plain_batch``): each type's struct plus the other types' own fields,
  allowed only as ``null`` (a type's own field on another type is a producer bug);
- the full validator (``validate_event``), which explains every problem of an event
  by index, field and what is allowed, by checking each field against the same
  annotations. It also takes what the one-pass decoder does not: ISO-8601 times,
  unknown fields (ignored), NDJSON.

Property tests hold the two paths to the same events. A valid event is an instance of
its type's wire class, so both paths give equal objects.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, cast, get_type_hints

import msgspec
import orjson

from engactivity.core.params import INT64_MAX, INT64_MIN
from engactivity.core.problems import Problem

MAX_EVENT_ID_CHARS = 128
MAX_HANDLING_TIME = 2**31 - 1
"""Seconds (68 years); bounds the sums so they always fit a 64-bit counter."""
MAX_COUNT = 2**31 - 1
"""Queue sizes and available slots; bounds their sums like handling times'."""
MAX_REASON_ID_CHARS = 64
MAX_FUTURE_MS = 5 * 60_000
"""Events further ahead of the server clock than this are refused."""

# -- field types: each carries what is allowed, in words, for the 400 bodies ------------

EventId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_EVENT_ID_CHARS,
        description=f"a string of 1 to {MAX_EVENT_ID_CHARS} characters",
    ),
]
Millis = Annotated[
    int,
    msgspec.Meta(
        ge=INT64_MIN,
        le=INT64_MAX,
        description="integer epoch milliseconds, or an ISO-8601 string with an offset or Z",
    ),
]
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX, description="a 64-bit integer")]
SkillId = Annotated[
    int,
    msgspec.Meta(
        ge=INT64_MIN, le=INT64_MAX, description="a 64-bit integer, or null/absent for no skill"
    ),
]
Seconds = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=MAX_HANDLING_TIME,
        description=f"an integer from 0 to {MAX_HANDLING_TIME} (seconds)",
    ),
]
Count = Annotated[
    int,
    msgspec.Meta(ge=0, le=MAX_COUNT, description=f"an integer from 0 to {MAX_COUNT}"),
]
Flag = Annotated[bool, msgspec.Meta(description="true or false")]
AgentStateName = Annotated[
    Literal["online", "backSoon", "away", "loggedOut"],
    msgspec.Meta(description="'online', 'backSoon', 'away' or 'loggedOut'"),
]
ReasonId = Annotated[
    Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON_ID_CHARS)]
    | Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)],
    msgspec.Meta(
        description=f"a string of 1 to {MAX_REASON_ID_CHARS} characters or a 64-bit integer, "
        "only with state 'away'"
    ),
]
MaxChats = Annotated[
    int,
    msgspec.Meta(
        ge=1, le=MAX_COUNT, description=f"an integer from 1 to {MAX_COUNT}, or null for no limit"
    ),
]


# -- the event types ----------------------------------------------------------------------
#
# Attribute names are snake_case, wire names camelCase (``rename``). Required fields
# come first. ``skillId`` and ``agentId`` are allowed on every type; an absent or null
# ``skillId`` is skill -1 (where a method reads it).


class BaseEvent(msgspec.Struct, tag_field="type", rename="camel", frozen=True, gc=False):
    event_id: EventId
    time: Millis
    """Epoch milliseconds (an ISO-8601 time is converted when validated)."""


class Queued(BaseEvent, tag="queued", frozen=True):
    """A visitor entered a skill's queue."""

    skill_id: SkillId | None = None
    agent_id: Int64 | None = None


class Connected(BaseEvent, tag="connected", frozen=True):
    """A chat was connected to an agent, after ``waitTime`` seconds in the queue."""

    agent_id: Int64
    skill_id: SkillId | None = None
    wait_time: Seconds | None = None
    agent_group_id: Int64 | None = None


class Closed(BaseEvent, tag="closed", frozen=True):
    """A chat ended (``interactive`` or not, after ``handlingTime`` seconds)."""

    interactive: Flag
    handling_time: Seconds | None = None
    skill_id: SkillId | None = None
    agent_id: Int64 | None = None


class Abandoned(BaseEvent, tag="abandoned", frozen=True):
    """A visitor left the queue before reaching an agent, after ``waitTime`` seconds."""

    skill_id: SkillId | None = None
    wait_time: Seconds | None = None
    agent_id: Int64 | None = None


class QueueState(BaseEvent, tag="queueState", frozen=True):
    """A sample of a skill's queue as the routing engine saw it at ``time``."""

    skill_id: Int64
    queue_size: Count
    available_slots: Count
    agent_id: Int64 | None = None


class AgentState(BaseEvent, tag="agentState", frozen=True):
    """An agent's state from ``time`` on, until the agent's next ``agentState``."""

    agent_id: Int64
    state: AgentStateName
    reason_id: ReasonId | None = None
    """Why the agent is away (only with ``away``); an integer means its decimal string."""
    active_chats: Count | None = None
    max_chats: MaxChats | None = None
    skill_id: SkillId | None = None


EVENT_TYPES: tuple[type[BaseEvent], ...] = (
    Queued,
    Connected,
    Closed,
    Abandoned,
    QueueState,
    AgentState,
)
"""Every type of event, in the order their names are listed in errors."""

Event = Queued | Connected | Closed | Abandoned | QueueState | AgentState
UNIVERSAL_FIELDS = ("skill_id", "agent_id")
"""Allowed on every type (and checked even when the type is wrong)."""


# -- what the declarations imply ---------------------------------------------------------


class _Field(NamedTuple):
    """One field of an event type, as the full validator checks it."""

    name: str
    """The wire name."""
    annotation: Any
    required: bool
    allowed: str


def _fields_of(cls: type[BaseEvent]) -> dict[str, _Field]:
    """Every field of ``cls`` by attribute name, in declared order."""
    hints = get_type_hints(cls, include_extras=True)
    info = cast(msgspec.inspect.StructType, msgspec.inspect.type_info(cls))
    fields: dict[str, _Field] = {}
    for field in info.fields:
        kind: Any = field.type
        if isinstance(kind, msgspec.inspect.UnionType):  # optional: the annotation inside
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
        allowed = str(kind.extra_json_schema["description"])
        fields[field.name] = _Field(field.encode_name, hints[field.name], field.required, allowed)
    return fields


def event_type(cls: type[BaseEvent]) -> str:
    """The name of the type (its ``type`` on the wire)."""
    info = cast(msgspec.inspect.StructType, msgspec.inspect.type_info(cls))
    return str(info.tag)


_COMMON = _fields_of(BaseEvent)
_OWN = {
    event_type(cls): {k: v for k, v in _fields_of(cls).items() if k not in _COMMON}
    for cls in EVENT_TYPES
}
"""Per type name: its own fields (beyond eventId and time)."""
_EVERY: dict[str, _Field] = {}
for _own in _OWN.values():
    for _name, _field in _own.items():
        _EVERY.setdefault(_name, _field)
_ORDER = [*UNIVERSAL_FIELDS, *(name for name in _EVERY if name not in UNIVERSAL_FIELDS)]
"""Fields in the order problems are listed: the universal ones, then as declared."""


def _wire(cls: type[BaseEvent]) -> Any:
    """``cls`` for decoding: any unknown field refuses the event, and the other types'
    own fields are accepted only as null."""
    tag = event_type(cls)
    foreign = [(name, None, None) for name in _EVERY if name not in _OWN[tag]]
    return msgspec.defstruct(
        cls.__name__,
        foreign,
        bases=(cls,),
        module=__name__,
        tag=tag,
        tag_field="type",
        rename="camel",
        forbid_unknown_fields=True,
        frozen=True,
        gc=False,
    )


_WIRE = {event_type(cls): _wire(cls) for cls in EVENT_TYPES}
_AGENT_WIRE = _WIRE[event_type(AgentState)]
_ANY_WIRE: Any = functools.reduce(operator.or_, _WIRE.values())
_decode_plain = msgspec.json.Decoder(list[_ANY_WIRE]).decode
_TAGS = [f"'{tag}'" for tag in _WIRE]
_TYPES_ALLOWED = " or ".join([", ".join(_TAGS[:-1]), _TAGS[-1]] if len(_TAGS) > 1 else _TAGS)


def _fits(value: object, field: _Field) -> bool:
    try:
        msgspec.convert(value, field.annotation)
    except msgspec.ValidationError:
        return False
    return True


# -- decoding bodies -----------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_ISO_HINT = re.compile(r"\d{4}-?\d{2}-?\d{2}[T ]")

UNPARSABLE = object()
"""Stands in a decoded batch for an NDJSON line that was not JSON (already reported)."""

_BODY_ALLOWED = "a JSON array of event objects, or NDJSON (one event object per line)"


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
    for item in items:
        if item.time > latest or _misplaced_reason(item):
            return None
    return cast(list[Event], items)


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


# -- validating one event -------------------------------------------------------------------


def validate_event(raw: object, index: int, now_ms: int) -> Event | list[Problem]:
    """The event, or every problem with it."""
    if type(raw) is dict and (event := _convert(raw, now_ms)) is not None:
        return event
    return _validate_fully(raw, index, now_ms)


def _convert(raw: dict[str, Any], now_ms: int) -> Event | None:
    """The usual well-formed event, converted in C; None for anything else (the full
    validator then decides, and explains)."""
    try:
        event = cast(Event, msgspec.convert(raw, _ANY_WIRE))
    except msgspec.ValidationError:
        return None
    if event.time > now_ms + MAX_FUTURE_MS or _misplaced_reason(event):
        return None
    return event


def _misplaced_reason(event: Event) -> bool:
    """The one rule across fields: a reason belongs to an away agent only."""
    return (
        type(event) is _AGENT_WIRE
        and cast(AgentState, event).reason_id is not None
        and cast(AgentState, event).state != "away"
    )


def _reason_misplaced(state: object, reason: object) -> bool:
    return reason is not None and state != "away"


def _validate_fully(raw: object, index: int, now_ms: int) -> Event | list[Problem]:
    if not isinstance(raw, dict):
        return [Problem("event", "each event must be a JSON object", "a JSON object", index)]
    problems: list[tuple[str, str, str]] = []
    event_id = raw.get("eventId")
    if not _fits(event_id, _COMMON["event_id"]):
        problems.append(("eventId", "eventId is missing or invalid", _COMMON["event_id"].allowed))
    kind = raw.get("type")
    own = _OWN.get(kind) if isinstance(kind, str) else None
    if own is None:
        problems.append(("type", "type is missing or invalid", _TYPES_ALLOWED))
    time_ms = parse_time(raw.get("time"))
    if time_ms is None:
        problems.append(("time", "time is missing or invalid", _COMMON["time"].allowed))
    elif time_ms > now_ms + MAX_FUTURE_MS:
        problems.append(_TOO_FAR_AHEAD)
    else:
        # Before 1970 by more than 2^63 ms is as expired as any old event (never stored).
        time_ms = max(time_ms, INT64_MIN)
    valid: dict[str, object] = {}
    for name in _ORDER:
        field = _EVERY[name]
        value = raw.get(field.name)
        if own is not None and name in own:
            problem = _check_own(own[name], value, str(kind))
        elif own is not None:  # another type's own field: only null is allowed
            problem = (
                None
                if value is None
                else (f"{field.name} is not allowed on {_a(str(kind))} event", "absent")
            )
        elif name in UNIVERSAL_FIELDS:  # the type is wrong: still check the universal ones
            problem = None if value is None or _fits(value, field) else _invalid(field)
        else:
            problem = None
        if problem is not None:
            problems.append((field.name, *problem))
        elif value is not None:
            valid[field.name] = value
    if (
        kind == "agentState"
        and not any(field in ("state", "reasonId") for field, _, _ in problems)
        and _reason_misplaced(raw.get("state"), raw.get("reasonId"))
    ):
        problems.append(_REASON_NOT_AWAY)
    if problems:
        return [Problem(field, message, allowed, index) for field, message, allowed in problems]
    valid.update(type=kind, eventId=event_id, time=time_ms)
    return cast(Event, msgspec.convert(valid, _ANY_WIRE))


_TOO_FAR_AHEAD = (
    "time",
    "time is more than 5 minutes ahead of the server clock",
    "a time up to 5 minutes ahead of now",
)


_REASON_NOT_AWAY = (
    "reasonId",
    "reasonId is only allowed when state is 'away'",
    "absent or null unless state is 'away'",
)


def _a(kind: str) -> str:
    """The type's name with its article ("a queued", "an abandoned")."""
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _invalid(field: _Field) -> tuple[str, str]:
    return (f"{field.name} is invalid", field.allowed)


def _check_own(field: _Field, value: object, kind: str) -> tuple[str, str] | None:
    """What is wrong with ``value`` for a field of the event's own type, if anything."""
    required = (f"{field.name} is required for {_a(kind)} event", field.allowed)
    if value is None:
        return required if field.required else None
    if _fits(value, field):
        return None
    # A boolean is either given or not: a wrong value reads as a missing one.
    return required if field.annotation is Flag else _invalid(field)


def validate_batch(items: Sequence[object], now_ms: int) -> tuple[list[Event], list[Problem]]:
    """Validate every event of a batch; the batch is usable only if no problem is returned."""
    events: list[Event] = []
    problems: list[Problem] = []
    for index, raw in enumerate(items):
        if raw is UNPARSABLE:
            continue
        result = validate_event(raw, index, now_ms)
        if isinstance(result, list):
            problems.extend(result)
        else:
            events.append(result)
    return events, problems
