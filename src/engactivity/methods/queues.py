"""What queue events fold into (QUEUE.md sections 1 and 5), for the three queue methods.

- ``QUEUE_CELLS``: per bucket and skill, the counters and sums of section 1 (visitors
  queued, connected and abandoned, their waits, and the queue samples' sums, counts,
  minimums and maximums).
- ``QUEUE_SAMPLES``: per skill, the newest ``queueState`` sample, by (time, eventId):
  what the current queue state is read from (section 3).
- ``WAIT_BINS``: per bucket, skill, agent group and 5-second bin of the wait, the
  chats connected (section 4). Every histogram the SLA method accepts has edges that
  are multiples of 5 up to 86,400 s, so these bins answer each one exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from engactivity.core.events import Abandoned, Connected, Event, Queued, QueueState
from engactivity.core.timeframe import BUCKET_MS
from engactivity.store.tables import (
    BucketTable,
    Column,
    Deltas,
    LatestTable,
    Value,
    event_key,
    newer,
)

BIN_S = 5
"""Seconds per wait bin."""
LAST_BIN = 86_400 // BIN_S
"""Every wait of 86,400 s or more falls in this bin."""

# Value indexes of QUEUE_CELLS, in declared order.
ENTERED, CONNECTED, TIME_TO_ANSWER, ABANDONED, TIME_TO_ABANDON = range(5)
QS_SUM, QS_COUNT, SLOTS_SUM, SLOTS_COUNT = range(5, 9)
QS_MIN, SLOTS_MIN, QS_MAX, SLOTS_MAX = range(9, 13)


def _skill(event: Queued | Connected | Abandoned) -> int:
    return -1 if event.skill_id is None else event.skill_id


def fold_cells(events: Sequence[Event], into: Deltas) -> None:
    """Add each queue event to its bucket's cell of its skill (QUEUE.md section 1)."""
    empty = QUEUE_CELLS.empty_row()
    for event in events:
        if isinstance(event, QueueState):
            key = (event.time // BUCKET_MS, event.skill_id)
        elif isinstance(event, Queued | Connected | Abandoned):
            key = (event.time // BUCKET_MS, _skill(event))
        else:
            continue
        row = into.get(key)
        if row is None:
            row = into[key] = list(empty)
        if isinstance(event, Queued):
            row[ENTERED] += 1
        elif isinstance(event, Connected):
            row[CONNECTED] += 1
            row[TIME_TO_ANSWER] += event.wait_time or 0
        elif isinstance(event, Abandoned):
            row[ABANDONED] += 1
            row[TIME_TO_ABANDON] += event.wait_time or 0
        else:
            _sample(row, GAUGES[0], event.queue_size)
            _sample(row, GAUGES[1], event.available_slots)


Gauge = tuple[int, int, int, int]
"""Where a sampled gauge's sum, count, minimum and maximum are in a cell's values."""
GAUGES: tuple[Gauge, Gauge] = (
    (QS_SUM, QS_COUNT, QS_MIN, QS_MAX),
    (SLOTS_SUM, SLOTS_COUNT, SLOTS_MIN, SLOTS_MAX),
)


def _sample(row: list[int], gauge: Gauge, value: int) -> None:
    total, count, low, high = gauge
    row[total] += value
    row[count] += 1
    row[low] = min(row[low], value)
    row[high] = max(row[high], value)


QUEUE_CELLS = BucketTable(
    name="queue_cell",
    keys=(Column("skill_id"),),
    values=(
        Value("entered"),
        Value("connected"),
        Value("time_to_answer"),
        Value("abandoned"),
        Value("time_to_abandon"),
        Value("queue_size_sum"),
        Value("queue_size_count"),
        Value("slots_sum"),
        Value("slots_count"),
        Value("queue_size_min", "min"),
        Value("slots_min", "min"),
        Value("queue_size_max", "max"),
        Value("slots_max", "max"),
    ),
    fold=fold_cells,
)


def fold_samples(events: Sequence[Event], into: Deltas) -> None:
    """Keep each skill's newest queueState sample of the batch."""
    for event in events:
        if isinstance(event, QueueState):
            sample = [
                event.time,
                event_key(event.event_id),
                event.queue_size,
                event.available_slots,
            ]
            key = (event.skill_id,)
            if newer(sample, into.get(key)):
                into[key] = sample


QUEUE_SAMPLES = LatestTable(
    name="queue_sample",
    keys=(Column("skill_id"),),
    values=(Value("queue_size"), Value("available_slots")),
    fold=fold_samples,
)


def wait_bin(wait_s: int) -> int:
    return min(wait_s // BIN_S, LAST_BIN)


def fold_waits(events: Sequence[Event], into: Deltas) -> None:
    """Count each connected chat in the bin of its wait (QUEUE.md section 4)."""
    for event in events:
        if isinstance(event, Connected):
            group = -1 if event.agent_group_id is None else event.agent_group_id
            skill = -1 if event.skill_id is None else event.skill_id
            key = (event.time // BUCKET_MS, skill, group, wait_bin(event.wait_time or 0))
            row = into.get(key)
            if row is None:
                into[key] = [1]
            else:
                row[0] += 1


WAIT_BINS = BucketTable(
    name="wait_bin",
    keys=(Column("skill_id"), Column("group_id"), Column("bin", "INTEGER")),
    values=(Value("chats"),),
    fold=fold_waits,
)


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (both >= 0, denominator > 0), exactly."""
    return (2 * numerator + denominator) // (2 * denominator)
