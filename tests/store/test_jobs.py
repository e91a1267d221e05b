"""The write jobs both engines share: which events of a batch are new, and their deltas."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.events import Event
from engactivity.methods import tables_of
from engactivity.store import MIN_RETENTION_MS, IngestResult
from engactivity.store.jobs import WriteJob
from engactivity.store.tables import fold_all
from tests.conftest import MIN, NOW_MS
from tests.factories import closed, connected

TABLES = tables_of()

batches = st.lists(
    st.builds(
        lambda event_id, minutes_ago, skill, agent, kind, seconds: (
            connected(event_id, NOW_MS - minutes_ago * MIN, skill, 7 if agent is None else agent)
            if kind == "connected"
            else closed(event_id, NOW_MS - minutes_ago * MIN, skill, agent, kind == "i", seconds)
        ),
        st.sampled_from(["a", "b", "c", "d", "e", "f", "a\x00"]),
        st.integers(0, 20),
        st.sampled_from([-1, 1, 2]),
        st.sampled_from([None, 0, 7]),
        st.sampled_from(["connected", "i", "n"]),
        st.integers(0, 3),
    ),
    max_size=30,
)


def prepare(live: list[Event]) -> WriteJob:
    return WriteJob.prepare("acct", live, NOW_MS - MIN_RETENTION_MS, TABLES, str)


@settings(max_examples=300, deadline=None)
@given(live=batches, stored=st.sets(st.sampled_from(["a", "c", "e", "x", "a\x00"])))
def test_taking_duplicates_off_equals_folding_the_new_events(
    live: list[Event], stored: set[str]
) -> None:
    job = prepare(live)
    assert job.event_ids == [event.event_id for event in live]
    duplicates = job.duplicates_given(stored)
    # The new events: the first occurrence of each id not stored, in batch order.
    fresh: list[Event] = []
    taken = set(stored)
    for event in live:
        if event.event_id not in taken:
            taken.add(event.event_id)
            fresh.append(event)
    assert len(duplicates) + len(fresh) == len(live)
    expected = fold_all(TABLES, fresh)
    assert job.without(duplicates) == (IngestResult(len(fresh), len(duplicates), 0), expected)
    assert all(any(row) for rows in expected for row in rows.values())
    # The deltas folded before the writer are left as they were.
    assert job.without([]) == (IngestResult(len(live), 0, 0), fold_all(TABLES, live))


def test_ids_are_recorded_in_statements_of_bounded_size() -> None:
    live = [connected(f"e{i}", NOW_MS - MIN, 1, 7) for i in range(25_000)]
    job = prepare(live)
    assert len(job.id_inserts) == 3
    recorded = [p for _, params in job.id_inserts for p in params[1::3]]
    assert recorded == [event.event_id for event in live]


def test_stored_ids_are_mapped_once() -> None:
    job = WriteJob.prepare(
        "acct", [connected("a\x00b")], NOW_MS - MIN_RETENTION_MS, TABLES, str, str.upper
    )
    assert job.event_ids == ["A\x00B"]
    assert job.id_inserts[0][1][1] == "A\x00B"


def test_expired_events_are_set_aside() -> None:
    old = connected("old", NOW_MS - MIN_RETENTION_MS - 1)
    edge = connected("edge", NOW_MS - MIN_RETENTION_MS)
    job = prepare([old, edge])
    assert job.live == [edge] and job.expired == 1
