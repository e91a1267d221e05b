"""The write jobs shared by the engines: which events of a batch are new, and their deltas."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.events import Event
from engactivity.metrics import closed, connected
from engactivity.store import MIN_RETENTION_MS, IngestResult
from engactivity.store.base import RollupKey, fold_rollups
from engactivity.store.schema import recorded_ids
from engactivity.store.writer import WriteJob
from tests.conftest import MIN, NOW_MS

batches = st.lists(
    st.builds(
        lambda event_id, minutes_ago, skill, agent, kind, seconds: Event(
            event_id,
            NOW_MS - minutes_ago * MIN,
            skill,
            7 if kind == "connected" and agent is None else agent,
            connected() if kind == "connected" else closed(kind == "interactive", seconds),
        ),
        st.sampled_from(["a", "b", "c", "d", "e", "f", "a\x00"]),
        st.integers(0, 20),
        st.sampled_from([-1, 1, 2]),
        st.sampled_from([None, 0, 7]),
        st.sampled_from(["connected", "interactive", "non-interactive"]),
        st.integers(0, 3),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(live=batches, stored=st.sets(st.sampled_from(["a", "c", "e", "x", "a\x00"])))
def test_taking_duplicates_off_equals_folding_the_new_events(
    live: list[Event], stored: set[str]
) -> None:
    job = WriteJob.prepare("acct", live, NOW_MS, MIN_RETENTION_MS, returning=False)
    ids = recorded_ids(job.id_inserts)
    assert ids == [event.event_id for event in job.batch.live]
    duplicates = job.duplicates_given(stored, ids)
    # The new events: the first occurrence of each id not stored, in batch order.
    fresh: list[Event] = []
    taken = set(stored)
    for event in live:
        if event.event_id not in taken:
            taken.add(event.event_id)
            fresh.append(event)
    assert len(duplicates) + len(fresh) == len(live)
    expected: dict[RollupKey, list[int]] = {}
    fold_rollups(fresh, expected)
    assert job.without(duplicates) == (IngestResult(len(fresh), len(duplicates), 0), expected)
    assert all(any(row) for row in expected.values())
    # The deltas folded before the writer are left as they were.
    everything: dict[RollupKey, list[int]] = {}
    fold_rollups(live, everything)
    assert job.without([]) == (IngestResult(len(live), 0, 0), everything)


@settings(max_examples=200, deadline=None)
@given(live=batches, new=st.sets(st.sampled_from(["a", "b", "c", "e", "a\x00"])))
def test_returned_ids_give_the_same_deltas(live: list[Event], new: set[str]) -> None:
    # PostgreSQL names the new ids (RETURNING): each one was new at its first occurrence.
    job = WriteJob.prepare("acct", live, NOW_MS, MIN_RETENTION_MS)
    returned = [(i,) for i in new if any(e.event_id == i for e in live)]
    fresh: list[Event] = []
    left = {row[0] for row in returned}
    for event in live:
        if event.event_id in left:
            left.discard(event.event_id)
            fresh.append(event)
    expected: dict[RollupKey, list[int]] = {}
    fold_rollups(fresh, expected)
    result = IngestResult(len(fresh), len(live) - len(fresh), 0)
    assert job.staged(returned) == (result, expected)


def test_recorded_ids_span_every_statement() -> None:
    live = [Event(f"e{i}", NOW_MS - MIN, 1, 7, connected()) for i in range(25_000)]
    job = WriteJob.prepare("acct", live, NOW_MS, MIN_RETENTION_MS, returning=False)
    assert len(job.id_inserts) == 3
    assert recorded_ids(job.id_inserts) == [event.event_id for event in live]
