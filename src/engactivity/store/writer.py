"""The writer thread of an engine: its queue of jobs, and the write jobs it commits.

Each engine has one writer thread that commits every pending batch in one transaction
(group commit). Batches are prepared on the submitting threads (``prepare_batch``), so
the writer only runs the statements and, when some events were duplicates, corrects
the rollup deltas (``WriteJob.without`` or ``WriteJob.staged``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from engactivity.events import Event
from engactivity.store.base import (
    IngestResult,
    PreparedBatch,
    RollupKey,
    StoreUnavailable,
    fold_rollups,
    prepare_batch,
)
from engactivity.store.schema import new_id_inserts

MAX_GROUP_EVENTS = 100_000
"""Most events committed in one group transaction."""


class Job(Protocol):
    """Anything queued for the writer: it answers through its future."""

    @property
    def future(self) -> Future[Any]: ...


@dataclass
class WriteJob:
    """One submitted batch, ready for the writer."""

    account_id: str
    batch: PreparedBatch
    id_inserts: list[tuple[str, list[object]]]
    """The statements recording the ids of the live events, with their parameters."""
    stored_id: Callable[[str], str] | None
    """How the database holds an event id, when not as it is."""
    rollup_inserts: list[tuple[str, list[object]]] | None = None
    """The statements adding the prepared rollups, if the engine built them beforehand."""
    future: Future[IngestResult] = field(default_factory=Future)

    @classmethod
    def prepare(
        cls,
        account_id: str,
        events: list[Event],
        now_ms: int,
        retention_ms: int,
        stored_id: Callable[[str], str] | None = None,
        returning: bool = True,
    ) -> WriteJob:
        """The job of a batch, built on the submitting thread (the per-event work).

        ``returning``: the id inserts name the new ids (else they only count them).
        """
        batch = prepare_batch(events, now_ms, retention_ms)
        inserts = new_id_inserts(account_id, batch.live, stored_id, returning)
        return cls(account_id, batch, inserts, stored_id)

    def staged(self, returned: list[Any]) -> tuple[IngestResult, dict[RollupKey, list[int]]]:
        """The result and rollup deltas, given the rows the id inserts returned."""
        if len(returned) == len(self.batch.live):
            return self.all_fresh()
        # An id new to the store was inserted by its first occurrence in the batch;
        # later occurrences are duplicates.
        new_ids = {row[0] for row in returned}
        stored_id = self.stored_id
        duplicates: list[Event] = []
        for event in self.batch.live:
            event_id = event.event_id if stored_id is None else stored_id(event.event_id)
            if event_id in new_ids:
                new_ids.discard(event_id)
            else:
                duplicates.append(event)
        return self.without(duplicates)

    def all_fresh(self) -> tuple[IngestResult, dict[RollupKey, list[int]]]:
        """The result and rollup deltas when no live event was a duplicate."""
        # The deltas folded before the writer are the right ones.
        return IngestResult(len(self.batch.live), 0, self.batch.expired), self.batch.rollups

    def duplicates_given(self, stored: set[str], ids: list[str]) -> list[Event]:
        """The live events that are duplicates, given the ids among them already stored.

        ``ids`` are the live events' ids, in order. The first occurrence of an id not
        stored is new; later ones in the batch are duplicates.
        """
        live = self.batch.live
        if len(set(ids)) == len(ids):  # no id comes twice: only stored ones are duplicates
            return [event for event, event_id in zip(live, ids, strict=True) if event_id in stored]
        duplicates: list[Event] = []
        seen: set[str] = set()
        for event, event_id in zip(live, ids, strict=True):
            if event_id in stored or event_id in seen:
                duplicates.append(event)
            else:
                seen.add(event_id)
        return duplicates

    def without(self, duplicates: list[Event]) -> tuple[IngestResult, dict[RollupKey, list[int]]]:
        """The result and rollup deltas when ``duplicates`` of the live events are not new.

        The duplicates' counters are taken off the deltas folded before the writer (they
        are the fewer). Every event counts at least one chat or connection, so a row
        falls to zero exactly when all its events were duplicates, and is dropped.
        """
        if not duplicates:
            return self.all_fresh()
        taken: dict[RollupKey, list[int]] = {}
        fold_rollups(duplicates, taken)
        prepared = self.batch.rollups
        rollups = dict(prepared)  # its rows are lists shared with prepared: replaced, not changed
        for key, minus in taken.items():
            row = [have - less for have, less in zip(prepared[key], minus, strict=True)]
            if any(row):
                rollups[key] = row
            else:
                del rollups[key]
        live, expired = len(self.batch.live), self.batch.expired
        fresh = live - len(duplicates)
        return IngestResult(fresh, len(duplicates), expired), rollups


@dataclass
class Group:
    """What the writer took from its queue in one go."""

    writes: list[WriteJob]
    others: list[object]
    """Jobs of other kinds, in queue order."""
    stopping: bool
    """The store is closing: this is the last group."""


_STOP = object()


class JobQueue:
    """The jobs waiting for a writer thread; once closed, jobs are refused."""

    def __init__(self) -> None:
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False

    def put(self, job: Job) -> None:
        # Checked and queued under the lock that close() takes, so a job is either ahead
        # of the writer's stop mark (and handled) or refused here; none is left hanging.
        with self._lock:
            if self._closed:
                job.future.set_exception(StoreUnavailable("the store is closed"))
            else:
                self._items.put(job)

    def close(self) -> bool:
        """Queue the writer's stop mark; False when the queue was already closed."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._items.put(_STOP)
        return True

    def take_group(self, timeout: float | None = None) -> Group:
        """Every job queued, up to MAX_GROUP_EVENTS events; waits ``timeout`` for one."""
        group = Group([], [], False)
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            return group
        pending_events = 0
        while True:
            if item is _STOP:
                group.stopping = True
            elif isinstance(item, WriteJob):
                group.writes.append(item)
                pending_events += len(item.batch.live)
            else:
                group.others.append(item)
            if pending_events >= MAX_GROUP_EVENTS:
                return group
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                return group

    def refuse_rest(self) -> None:
        """Refuse the jobs still queued (the writer's last step)."""
        while True:
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                job = cast(Job, item)
                job.future.set_exception(StoreUnavailable("the store is closed"))
