"""Events as the store receives them (validated structs), for tests below the HTTP layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engactivity.core.events import Event, validate_event
from engactivity.methods.engactivity import ROLLUP
from engactivity.store.tables import Deltas
from tests.conftest import NOW_MS

Counters = tuple[int, ...]
ZERO: Counters = (0, 0, 0, 0, 0)


def event(raw: dict[str, Any]) -> Event:
    """The event ``raw`` (EVENTS.md wire format) decodes to; it must be valid."""
    decoded = validate_event(raw, 0, NOW_MS + 10 * 60_000)
    assert not isinstance(decoded, list), decoded
    return decoded


def connected(
    event_id: str, time_ms: int = NOW_MS - 60_000, skill: int | None = None, agent: int = 1
) -> Event:
    return event(
        {
            "eventId": event_id,
            "type": "connected",
            "time": time_ms,
            "skillId": skill,
            "agentId": agent,
        }
    )


def closed(
    event_id: str,
    time_ms: int = NOW_MS - 60_000,
    skill: int | None = None,
    agent: int | None = None,
    interactive: bool = False,
    handling: int = 0,
) -> Event:
    return event(
        {
            "eventId": event_id,
            "type": "closed",
            "time": time_ms,
            "skillId": skill,
            "agentId": agent,
            "interactive": interactive,
            "handlingTime": handling,
        }
    )


def counters(events: Sequence[Event]) -> Counters:
    """The five engagement counters the events add up to."""
    rows: Deltas = {}
    ROLLUP.fold(events, rows)
    return tuple(sum(column) for column in zip(*rows.values(), strict=True)) or ZERO


def rollups(events: Sequence[Event]) -> Deltas:
    rows: Deltas = {}
    ROLLUP.fold(events, rows)
    return rows
