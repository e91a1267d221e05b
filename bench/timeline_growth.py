"""``python -m bench.timeline_growth``: reads of a large timeline table right after writes
that make one key's room run out (not a test).

A table like the large account's agent states (2,000 agents, 466,000 rows) takes 3,000
single-event writes for one agent, each followed by a read (``timelines()``, which
writes the new rows into the arrays, moving or laying out rows when the agent's room
runs out). Prints the reads' p50, p99, maximum and total. Put another checkout's ``src``
first on ``PYTHONPATH`` to time its code the same way.
"""

from __future__ import annotations

import time

from bench.stats import percentile
from engactivity.core.events import Event, validate_event
from engactivity.methods.agentactivity.timeline import AGENT_STATES
from engactivity.store.tables import Deltas
from engactivity.store.timelines import TimelineRows

NOW_MS = 1_780_000_000_000
AGENTS = 2_000
ROWS = 466_000
WRITES = 3_000


def agent_state(event_id: str, time_ms: int, agent: int) -> Event:
    raw = {"eventId": event_id, "type": "agentState", "time": time_ms, "agentId": agent}
    event = validate_event({**raw, "state": "online"}, 0, NOW_MS + 10**9)
    assert not isinstance(event, list), event
    return event


def write(rows: TimelineRows, events: list[Event]) -> None:
    into: Deltas = {}
    AGENT_STATES.fold(events, into)
    rows.apply(into.items())


def main() -> None:
    rows = TimelineRows(AGENT_STATES)
    start = NOW_MS - ROWS * 100
    write(rows, [agent_state(f"e{i}", start + i * 100, i % AGENTS) for i in range(ROWS)])
    rows.timelines()
    reads = []
    for n in range(WRITES):
        write(rows, [agent_state(f"x{n}", NOW_MS + n, AGENTS // 2)])
        began = time.perf_counter()
        rows.timelines()
        reads.append(time.perf_counter() - began)
    ms = [s * 1000 for s in reads]
    print(
        f"{WRITES} reads after a write to one of {AGENTS} agents ({ROWS:,} rows): "
        f"p50 {percentile(ms, 50):.3f} ms, p99 {percentile(ms, 99):.2f} ms, "
        f"max {max(ms):.1f} ms, total {sum(ms) / 1000:.2f} s"
    )


if __name__ == "__main__":
    main()
