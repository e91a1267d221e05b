"""The five counters of the Engagement Activity API and their wire names."""

from __future__ import annotations

METRIC_KEYS: tuple[str, ...] = (
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
)
"""Wire names, in the order every response lists them."""

Counters = tuple[int, int, int, int, int]
"""Values in the order of METRIC_KEYS."""

ZERO: Counters = (0, 0, 0, 0, 0)


def add(a: Counters, b: Counters) -> Counters:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def connected() -> Counters:
    return (0, 0, 0, 0, 1)


def closed(interactive: bool, handling_time: int) -> Counters:
    if interactive:
        return (1, 0, handling_time, 0, 0)
    return (0, 1, 0, handling_time, 0)
