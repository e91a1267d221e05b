"""A group of batches written together: its ids and rows as one set each.

Dialects whose statements are round trips (PostgreSQL, ``Dialect.set_based``) record
a whole group's event ids in one statement and merge its rows into each table in one
more (``postgres_group.py``). What that takes, without a database, is here: the ids
of the group each once, which events were duplicates given the ids that were new, and
the rows of every batch merged per account and key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engactivity.store.jobs import Staged, WriteJob
from engactivity.store.tables import Deltas, Table, merge_deltas


@dataclass
class GroupIds:
    """The ids to record for a group, each (account, id) once, with its first event's
    bucket, as columns."""

    accounts: list[str]
    ids: list[str]
    buckets: list[int]
    repeated: bool
    """Some id comes more than once in the group: some events are duplicates."""


def group_ids(jobs: Sequence[WriteJob]) -> GroupIds:
    accounts: list[str] = []
    ids: list[str] = []
    buckets: list[int] = []
    for job in jobs:
        accounts += [job.account_id] * len(job.event_ids)
        ids += job.event_ids
        buckets += job.buckets
    if len(set(zip(accounts, ids, strict=True))) == len(ids):
        return GroupIds(accounts, ids, buckets, False)
    first: dict[tuple[str, str], int] = {}
    for key, bucket in zip(zip(accounts, ids, strict=True), buckets, strict=True):
        first.setdefault(key, bucket)
    return GroupIds(
        [a for a, _ in first], [i for _, i in first], list(first.values()), repeated=True
    )


def staged_given(jobs: Sequence[WriteJob], new: set[tuple[str, str]]) -> list[Staged]:
    """Each job's result and deltas, given the (account, id)s the group recorded anew.

    The first occurrence in the group of a new id counts; the ids not new were stored
    before, and every other occurrence is a duplicate, as if the batches had been
    written one after the other.
    """
    taken: set[tuple[str, str]] = set()
    staged: list[Staged] = []
    for job in jobs:
        keys = [(job.account_id, event_id) for event_id in job.event_ids]
        stored = {key[1] for key in keys if key not in new or key in taken}
        taken.update(keys)
        staged.append(job.without(job.duplicates_given(stored)))
    return staged


def merged_rows(
    tables: Sequence[Table], jobs: Sequence[WriteJob], staged: Sequence[Staged]
) -> list[list[tuple[Any, ...]]]:
    """Per table, the group's rows as (account, key..., values...), each key once."""
    by_account: dict[str, list[list[Deltas]]] = {}
    for job, (_, deltas) in zip(jobs, staged, strict=True):
        by_account.setdefault(job.account_id, []).append(deltas)
    out: list[list[tuple[Any, ...]]] = []
    for at, table in enumerate(tables):
        rows: list[tuple[Any, ...]] = []
        for account_id, batches in by_account.items():
            merged = batches[0][at]
            if len(batches) > 1:
                merged = {}
                for deltas in batches:
                    merge_deltas(table, deltas[at], merged)
            rows += [(account_id, *key, *values) for key, values in merged.items()]
        out.append(rows)
    return out
