"""A group written together (PostgreSQL) counts and merges exactly as its batches would
one after the other."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.events import Event
from engactivity.core.timeframe import BUCKET_MS
from engactivity.methods import tables_of
from engactivity.store import MIN_RETENTION_MS, IngestResult
from engactivity.store.grouped import group_ids, merged_rows, staged_given
from engactivity.store.jobs import WriteJob
from engactivity.store.tables import fold_all
from tests.conftest import MIN, NOW_MS
from tests.factories import closed, connected
from tests.store.test_jobs import batches

TABLES = tables_of()

groups = st.lists(st.tuples(st.sampled_from(["acme", "beta"]), batches), min_size=1, max_size=5)


def prepare(account: str, live: list[Event]) -> WriteJob:
    return WriteJob.prepare(account, live, NOW_MS - MIN_RETENTION_MS, TABLES, str, statements=False)


def one_after_the_other(
    group: list[tuple[str, list[Event]]], stored: set[tuple[str, str]]
) -> tuple[list[IngestResult], dict[str, list[Event]]]:
    """Each batch's result, and each account's new events in order, batch by batch."""
    seen = set(stored)
    results: list[IngestResult] = []
    fresh: dict[str, list[Event]] = {}
    for account, live in group:
        new: list[Event] = []
        for event in live:
            if (account, event.event_id) not in seen:
                seen.add((account, event.event_id))
                new.append(event)
        fresh.setdefault(account, []).extend(new)
        results.append(IngestResult(len(new), len(live) - len(new), 0))
    return results, fresh


def as_rows(fresh: dict[str, list[Event]]) -> list[set[tuple[Any, ...]]]:
    out: list[set[tuple[Any, ...]]] = [set() for _ in TABLES]
    for account, events in fresh.items():
        for at, deltas in enumerate(fold_all(TABLES, events)):
            out[at] |= {(account, *key, *values) for key, values in deltas.items()}
    return out


@settings(max_examples=300, deadline=None)
@given(
    group=groups,
    stored=st.sets(st.tuples(st.sampled_from(["acme", "beta"]), st.sampled_from("abx"))),
)
def test_a_group_counts_and_merges_as_its_batches_in_turn(
    group: list[tuple[str, list[Event]]], stored: set[tuple[str, str]]
) -> None:
    jobs = [prepare(account, live) for account, live in group]
    ids = group_ids(jobs)
    keys = list(zip(ids.accounts, ids.ids, strict=True))
    assert len(set(keys)) == len(keys)  # each (account, id) once
    everything = [(job.account_id, i) for job in jobs for i in job.event_ids]
    assert set(keys) == set(everything)
    assert ids.repeated == (len(set(everything)) < len(everything))
    new = set(keys) - stored  # what the database answers
    staged = staged_given(jobs, new)
    results, fresh = one_after_the_other(group, stored)
    assert [result for result, _ in staged] == results
    rows = merged_rows(TABLES, jobs, staged)
    assert [set(table_rows) for table_rows in rows] == as_rows(fresh)
    for table, table_rows in zip(TABLES, rows, strict=True):  # no key twice in a statement
        keys = {row[: len(table.key_names)] for row in table_rows}
        assert len(keys) == len(table_rows)


def test_an_id_repeated_keeps_the_bucket_of_its_first_event() -> None:
    first = connected("a", NOW_MS - 10 * MIN, 1, 2)
    again = closed("a", NOW_MS - 300 * MIN, 1, 2)
    jobs = [prepare("acme", [first]), prepare("acme", [again, connected("b", NOW_MS - MIN)])]
    ids = group_ids(jobs)
    assert ids.repeated
    assert list(zip(ids.ids, ids.buckets, strict=True)) == [
        ("a", first.time // BUCKET_MS),
        ("b", (NOW_MS - MIN) // BUCKET_MS),
    ]
