"""An independent reference model of the queue methods, written from QUEUE.md alone.

Like tests/oracle.py (whose bucket, span and interval arithmetic it reuses), it imports
nothing from ``engactivity``: given raw events (EVENTS.md dicts), the server's ``now``
and the query parameters, it computes the exact body the service must answer, the
slow and obvious way: from the events themselves, never from rollups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from tests.oracle import (
    B_MS,
    Ids,
    dedupe,
    event_skill,
    event_time,
    first_last,
    intervals,
    parse_ids,
    parse_int,
)

Json = dict[str, Any]
Event = Mapping[str, Any]

KEYS = (
    "totalTimeToAnswer",
    "enteredQEng",
    "avgTimeToAnswer",
    "abandonmentRate",
    "abandonedEng",
    "connectedEng",
    "totalTimeToAbandon",
    "avgTimeToAbandon",
    "maxQueueSize",
    "minQueueSize",
    "averageQueueSize",
    "maxAvailableSlots",
    "minAvailableSlots",
    "averageAvailableSlots",
    "currentQueueSize",
    "currentAvailableSlots",
    "queueSizeSum",
    "queueSizeCount",
    "availableSlotsSum",
    "availableSlotsCount",
)
QUEUE_TYPES = ("queued", "connected", "abandoned", "queueState")
DEFAULT_HISTOGRAM = [0, 15, 30, 45, 60, 90, 120]


def half_up(value: Fraction, places: int = 0) -> Fraction:
    """``value`` (>= 0) rounded half up to ``places`` decimals, exactly."""
    scale = 10**places
    return Fraction((value * scale * 2 + 1) // 2, scale)


def wait(event: Event) -> int:
    return int(event.get("waitTime") or 0)


# -- queue health -----------------------------------------------------------------------------


def current_values(events: Iterable[Event], now_ms: int) -> dict[int, tuple[int, int]]:
    """skill -> (queueSize, availableSlots) of its newest sample younger than 5 minutes."""
    newest: dict[int, Event] = {}
    for event in events:
        if event["type"] != "queueState" or event_time(event) <= now_ms - 300_000:
            continue
        skill = int(event["skillId"])
        held = newest.get(skill)
        order = (event_time(event), str(event["eventId"]))
        if held is None or order > (event_time(held), str(held["eventId"])):
            newest[skill] = event
    return {s: (int(e["queueSize"]), int(e["availableSlots"])) for s, e in newest.items()}


def _gauge(samples: Sequence[int]) -> tuple[Any, Any, Any]:
    if not samples:
        return -1, -1, -1
    return max(samples), min(samples), sum(samples) / len(samples)


def skill_metrics(events: Sequence[Event], current: tuple[int, int] | None) -> Json:
    """The twenty metrics over one skill's events (section 2.1)."""
    connected = [e for e in events if e["type"] == "connected"]
    abandoned = [e for e in events if e["type"] == "abandoned"]
    samples = [e for e in events if e["type"] == "queueState"]
    sizes = [int(e["queueSize"]) for e in samples]
    slots = [int(e["availableSlots"]) for e in samples]
    return _metrics(
        entered=sum(1 for e in events if e["type"] == "queued"),
        connected=len(connected),
        answer=sum(wait(e) for e in connected),
        abandoned=len(abandoned),
        abandon=sum(wait(e) for e in abandoned),
        sizes=(*_gauge(sizes), sum(sizes), len(sizes)),
        slots=(*_gauge(slots), sum(slots), len(slots)),
        current=current,
    )


def _metrics(
    *,
    entered: int,
    connected: int,
    answer: int,
    abandoned: int,
    abandon: int,
    sizes: tuple[Any, ...],
    slots: tuple[Any, ...],
    current: tuple[int, int] | None,
) -> Json:
    size_max, size_min, size_avg, size_sum, size_count = sizes
    slot_max, slot_min, slot_avg, slot_sum, slot_count = slots
    out = {
        "totalTimeToAnswer": answer,
        "enteredQEng": entered,
        "avgTimeToAnswer": int(half_up(Fraction(answer, connected))) if connected else 0,
        "abandonmentRate": (
            float(half_up(Fraction(abandoned, abandoned + connected), 2))
            if abandoned + connected
            else 0
        ),
        "abandonedEng": abandoned,
        "connectedEng": connected,
        "totalTimeToAbandon": abandon,
        "avgTimeToAbandon": int(half_up(Fraction(abandon, abandoned))) if abandoned else 0,
        "maxQueueSize": size_max,
        "minQueueSize": size_min,
        "averageQueueSize": size_avg,
        "maxAvailableSlots": slot_max,
        "minAvailableSlots": slot_min,
        "averageAvailableSlots": slot_avg,
        "currentQueueSize": -1 if current is None else current[0],
        "currentAvailableSlots": -1 if current is None else current[1],
        "queueSizeSum": size_sum,
        "queueSizeCount": size_count,
        "availableSlotsSum": slot_sum,
        "availableSlotsCount": slot_count,
    }
    assert tuple(out) == KEYS
    return out


def totals(per_skill: Mapping[int, Json], current: tuple[int, int] | None) -> Json:
    """Section 2.2 over the skills' metrics."""
    rows = list(per_skill.values())

    def total(key: str) -> int:
        return sum(int(row[key]) for row in rows)

    def of_sampled(key: str, count: str) -> Any:
        sampled = [row[key] for row in rows if row[count]]
        return sum(sampled) if sampled else -1

    size_count, slot_count = total("queueSizeCount"), total("availableSlotsCount")
    size_sum, slot_sum = total("queueSizeSum"), total("availableSlotsSum")
    return _metrics(
        entered=total("enteredQEng"),
        connected=total("connectedEng"),
        answer=total("totalTimeToAnswer"),
        abandoned=total("abandonedEng"),
        abandon=total("totalTimeToAbandon"),
        sizes=(
            of_sampled("maxQueueSize", "queueSizeCount"),
            of_sampled("minQueueSize", "queueSizeCount"),
            size_sum / size_count if size_count else -1,
            size_sum,
            size_count,
        ),
        slots=(
            of_sampled("maxAvailableSlots", "availableSlotsCount"),
            of_sampled("minAvailableSlots", "availableSlotsCount"),
            slot_sum / slot_count if slot_count else -1,
            slot_sum,
            slot_count,
        ),
        current=current,
    )


def _named_current(skills: Ids, current: Mapping[int, tuple[int, int]]) -> tuple[int, int] | None:
    named = (
        list(current) if skills is None or skills == "all" else [s for s in skills if s in current]
    )
    if not named:
        return None
    return sum(current[s][0] for s in named), sum(current[s][1] for s in named)


def _health_section(
    events: Sequence[Event], skills: Ids, current: Mapping[int, tuple[int, int]] | None
) -> Json:
    chosen = [e for e in events if skills in (None, "all") or event_skill(e) in skills]
    per_skill = {
        skill: skill_metrics(
            [e for e in chosen if event_skill(e) == skill],
            None if current is None else current.get(skill),
        )
        for skill in sorted({event_skill(e) for e in chosen})
    }
    body: Json = {}
    if skills is not None:
        body["skillsMetrics"] = {str(s): m for s, m in per_skill.items()}
    body["metricsTotals"] = totals(
        per_skill, None if current is None else _named_current(skills, current)
    )
    return body


def queuehealth(events: Iterable[Event], now_ms: int, params: Mapping[str, object]) -> Json:
    timeframe = parse_int(params["timeframe"])
    assert timeframe is not None
    interval = parse_int(params.get("interval"))
    skills = parse_ids(params.get("skillIds"))
    unique = [e for e in dedupe(events) if e["type"] in QUEUE_TYPES]
    first, last = first_last(now_ms, timeframe)
    in_span = [e for e in unique if first <= event_time(e) // B_MS <= last]
    whole = _health_section(in_span, skills, current_values(unique, now_ms))
    if interval is None:
        return whole
    listed = []
    for iv in intervals(now_ms, timeframe, interval):
        inside = [e for e in in_span if iv.holds(event_time(e) // B_MS * B_MS)]
        listed.append(
            {"timestamp": iv.timestamp, "metricsData": _health_section(inside, skills, None)}
        )
    return {"metricsByIntervals": listed, **whole}


# -- current queue state ------------------------------------------------------------------


def queuestate(events: Iterable[Event], now_ms: int, params: Mapping[str, object]) -> Json:
    current = current_values(dedupe(events), now_ms)
    skills = parse_ids(params.get("skillIds"))
    if skills is None or skills == "all":
        listed = {s: current[s] for s in sorted(current)}
    else:
        listed = {s: current.get(s, (-1, -1)) for s in sorted(skills)}
    known = [v for v in listed.values() if v != (-1, -1)]
    return {
        "skills": {
            str(s): {"currentAvailableSlots": slots, "currentQueueSize": size}
            for s, (size, slots) in listed.items()
        },
        "totals": {
            "currentAvailableSlots": sum(v[1] for v in known) if known else -1,
            "currentQueueSize": sum(v[0] for v in known) if known else -1,
        },
    }


# -- SLA histogram ------------------------------------------------------------------------


def parse_histogram(value: object) -> list[int]:
    if value is None or value == [] or (isinstance(value, str) and not value.strip()):
        return DEFAULT_HISTOGRAM
    items = value if isinstance(value, list) else str(value).split(",")
    return sorted({0, *(int(str(item).strip()) for item in items)})


def sla(events: Iterable[Event], now_ms: int, params: Mapping[str, object]) -> Json:
    timeframe = parse_int(params["timeframe"])
    assert timeframe is not None
    skills = parse_ids(params.get("skillIds"))
    groups = parse_ids(params.get("groupIds"))
    edges = parse_histogram(params.get("histogram"))
    first, last = first_last(now_ms, timeframe)
    waits = [
        wait(e)
        for e in dedupe(events)
        if e["type"] == "connected"
        and first <= event_time(e) // B_MS <= last
        and (skills in (None, "all") or event_skill(e) in skills)
        and (groups in (None, "all") or _group(e) in groups)
    ]
    total = len(waits)
    ranges: Json = {}
    accumulated = 0
    for i, edge in enumerate(edges):
        upper = edges[i + 1] if i + 1 < len(edges) else None
        chats = sum(1 for w in waits if w >= edge and (upper is None or w < upper))
        accumulated += chats
        ranges[str(edge)] = {
            "accumulated": accumulated / total if total else 0,
            "percentageFromTotal": chats / total if total else 0,
            "chats": chats,
        }
    return {"slaDataRange": ranges}


def _group(event: Event) -> int:
    group = event.get("agentGroupId")
    return -1 if group is None else int(group)


# -- comparing --------------------------------------------------------------------------------


def same(actual: Any, expected: Any, where: str = "$") -> None:
    """Equal as clients compare them (numbers as numbers), with the same key order."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            same(a, e, f"{where}[{i}]")
    else:
        assert not isinstance(actual, bool) and actual == expected, (
            f"{where}: {actual!r} != {expected!r}"
        )
