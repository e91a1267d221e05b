"""The writer's work: its queue of jobs, and the write jobs it commits.

An engine has one writer thread that commits every pending batch in one transaction
(group commit). The per-event work of a batch is done before it reaches the writer,
on the submitting thread (``WriteJob.prepare``): expired events are set aside, the
rows of every table are folded as if no event were a duplicate, and the statements
are built. Duplicates are rare; when the writer finds some, it takes their
contribution off the prepared deltas (``WriteJob.without``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from engactivity.core.events import Event
from engactivity.core.timeframe import BUCKET_MS
from engactivity.store.interface import IngestResult, StoreUnavailable
from engactivity.store.schema import PARAMS_PER_STATEMENT, id_inserts, insert_new_ids
from engactivity.store.tables import Deltas, Table, fold_all, subtract

MAX_GROUP_EVENTS = 100_000
"""Most events committed in one group transaction."""

Statement = tuple[str, list[object]]
Staged = tuple[IngestResult, list[Deltas]]
"""A batch's result and its row deltas (one per table) once its duplicates are known."""


class Job(Protocol):
    """Anything queued for the writer: it answers through its future."""

    @property
    def future(self) -> Future[Any]: ...


@dataclass
class CallJob:
    """Runs ``fn`` on the writer thread with the write connection."""

    fn: Callable[[Any], Any]
    future: Future[Any] = field(default_factory=Future)


@dataclass
class WriteJob:
    """One submitted batch, ready for the writer."""

    account_id: str
    tables: Sequence[Table]
    live: list[Event]
    """The events not expired, in batch order."""
    expired: int
    deltas: list[Deltas]
    """Per table, the rows of every live event (as if none were a duplicate)."""
    event_ids: list[str]
    """The live events' ids as the database holds them."""
    buckets: list[int]
    """The live events' buckets (for a set-based dialect only)."""
    id_inserts: list[Statement]
    upserts: list[Statement]
    """The statements adding ``deltas``, built before the writer."""
    sql: Callable[[str], str]
    future: Future[IngestResult] = field(default_factory=Future)

    @classmethod
    def prepare(
        cls,
        account_id: str,
        events: list[Event],
        oldest_kept_ms: int,
        tables: Sequence[Table],
        sql: Callable[[str], str],
        stored_id: Callable[[str], str] | None = None,
        statements: bool = True,
    ) -> WriteJob:
        """The job of a batch, built on the submitting thread (the per-event work).

        Events older than ``oldest_kept_ms`` are expired: acknowledged, not stored.
        ``sql`` puts a statement in the database's dialect; ``stored_id`` maps an event
        id to the form the database can hold, when it differs. Without ``statements``
        the batch's own statements are not built (a set-based dialect writes the group).
        """
        live = [e for e in events if e.time >= oldest_kept_ms]
        ids = [e.event_id for e in live]
        if stored_id is not None:
            ids = [stored_id(i) for i in ids]
        # A set-based dialect records the group's ids itself; otherwise the batch's own
        # statements do.
        buckets = [] if statements else [e.time // BUCKET_MS for e in live]
        inserts = []
        if statements:
            inserts = [
                (sql(insert_new_ids(len(params) // 3)), params)
                for params in id_inserts(account_id, ids, live)
            ]
        deltas = fold_all(tables, live)
        expired = len(events) - len(live)
        job = cls(account_id, tables, live, expired, deltas, ids, buckets, inserts, [], sql)
        if statements:
            job.upserts = job.statements_for(deltas)
        return job

    def statements_for(self, deltas: list[Deltas]) -> list[Statement]:
        """The upserts adding ``deltas`` to the account's rows."""
        return [
            (self.sql(text), params)
            for table, rows in zip(self.tables, deltas, strict=True)
            for text, params in table.upserts(
                self.account_id, list(rows.items()), PARAMS_PER_STATEMENT
            )
        ]

    def all_fresh(self) -> Staged:
        """The result and deltas when no live event was a duplicate."""
        return IngestResult(len(self.live), 0, self.expired), self.deltas

    def duplicates_given(self, stored: set[str]) -> list[Event]:
        """The live events that are duplicates, given the ids among them already stored.

        The first occurrence of an id not stored is new; later ones in the batch are
        duplicates.
        """
        ids = self.event_ids
        if len(set(ids)) == len(ids):  # no id comes twice: only stored ones are duplicates
            return [e for e, i in zip(self.live, ids, strict=True) if i in stored]
        duplicates: list[Event] = []
        seen: set[str] = set()
        for event, event_id in zip(self.live, ids, strict=True):
            if event_id in stored or event_id in seen:
                duplicates.append(event)
            else:
                seen.add(event_id)
        return duplicates

    def without(self, duplicates: list[Event]) -> Staged:
        """The result and deltas when ``duplicates`` of the live events are not new.

        Their contribution is taken off the prepared deltas of sums (they are the
        fewer); other tables fold the new events again.
        """
        if not duplicates:
            return self.all_fresh()
        taken: list[Deltas] | None = None
        fresh: list[Event] | None = None
        deltas: list[Deltas] = []
        for table, prepared in zip(self.tables, self.deltas, strict=True):
            if table.subtractable:  # sums: take the duplicates' part off
                if taken is None:
                    taken = fold_all(self.tables, duplicates)
                deltas.append(subtract(prepared, taken[len(deltas)]))
            else:  # a minimum, a newest sample: fold the new events again
                if fresh is None:
                    gone = {id(event) for event in duplicates}
                    fresh = [event for event in self.live if id(event) not in gone]
                folded: Deltas = {}
                table.fold(fresh, folded)
                deltas.append(folded)
        counted = len(self.live) - len(duplicates)
        return IngestResult(counted, len(duplicates), self.expired), deltas


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
                pending_events += len(item.live)
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
