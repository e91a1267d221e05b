"""The store: one skeleton for every database, with a dialect for what differs.

One writer thread commits every pending batch in one transaction (group commit), so
writers never contend. Each batch's event ids are inserted optimistically: the
statement only counts the new ones. When the count falls short, some were
duplicates but the count does not say which, so the transaction is rolled back and
the group done again carefully, looking up the batch's stored ids first; groups stay
careful while they keep meeting duplicates. A set-based dialect (PostgreSQL) does the
same for the whole group at once: one insert of its ids, one upsert per table
(``grouped.py``). A failed transaction fails every batch in
it (503, nothing stored; resending is safe), unless the dialect says it may be tried
again (a serialization failure, a connection lost before COMMIT).

A second thread, the completer, makes commits durable (``Dialect.sync``: one fsync of
SQLite's write-ahead log covers every group committed meanwhile, so the flush of one
group overlaps the SQL of the next), then applies them to memory and acknowledges
them, in commit order. Nothing is acknowledged before it is durable and visible.

Retention runs on the writer thread between groups, in small steps.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engactivity.clock import Clock
from engactivity.core.events import Event
from engactivity.store.database import Database
from engactivity.store.dialect import Connection, OnWriteError
from engactivity.store.grouped import group_ids, merged_rows, staged_given
from engactivity.store.interface import (
    DEFAULT_MEMORY_BYTES,
    MIN_RETENTION_MS,
    IngestResult,
    MemoryStats,
    StoreUnavailable,
    TableStats,
    retention_cutoff_bucket,
)
from engactivity.store.jobs import CallJob, JobQueue, Staged, WriteJob
from engactivity.store.memory import AccountState
from engactivity.store.mirror import Mirror, encode
from engactivity.store.retention import Retention
from engactivity.store.schema import SCHEMA_VERSION_QUERY
from engactivity.store.tables import Deltas, Table

log = logging.getLogger(__name__)
T = TypeVar("T")

_EXTERNAL_CHECK_S = 1.0
"""How often the writer looks for commits by other processes (non-shared dialects)."""
_WRITE_TRIES = 8


@dataclass
class _Task:
    """Runs ``fn`` on the completer thread, in order with the groups."""

    fn: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


@dataclass
class _Committed:
    """A group the writer committed: made durable, applied and acknowledged later."""

    jobs: list[WriteJob]
    staged: list[Staged]
    versions: dict[str, int]
    number: int
    """The commit's number (non-shared dialects: ``Mirror.commit``)."""


class _Redo(Exception):
    """An optimistic try met duplicates: the group is done again carefully."""


_STOP = object()


class Engine:
    """A Store (``interface.py``) on any database that has a dialect."""

    def __init__(
        self,
        db: Database,
        tables: Sequence[Table],
        clock: Clock,
        retention_ms: int = MIN_RETENTION_MS,
        owns_database: bool = False,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        if retention_ms < MIN_RETENTION_MS:
            raise ValueError("retention must be at least 24 h 10 min")
        self.retention_ms = retention_ms
        self.blocking = db.dialect.blocking
        self._db = db
        self._owns_database = owns_database
        self._dialect = db.dialect
        self._tables = tuple(tables)
        self._clock = clock
        db.migrate(self._tables)
        # Accounts are loaded on first use, on every dialect (mirror.py).
        self._mirror = Mirror(db, self._tables, self._cutoff, memory_bytes)
        self._retention = Retention(db, self._tables, self._clock, retention_ms, self._mirror)
        self._careful = False
        """The last group met duplicates: look up stored ids before inserting (writer only)."""
        self._jobs = JobQueue()
        self._completions: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._listeners: list[Callable[[str], None]] = []
        """Told each account whose new data is in memory (``on_applied``)."""
        self._completer = threading.Thread(
            target=self._run_completer, name="completer", daemon=True
        )
        self._completer.start()
        self._writer = threading.Thread(target=self._run_writer, name="writer", daemon=True)
        self._writer.start()

    def _cutoff(self) -> int:
        return retention_cutoff_bucket(self._clock(), self.retention_ms)

    @property
    def purged_rows(self) -> int:
        return self._retention.purged_rows

    def memory(self) -> MemoryStats:
        return self._mirror.stats()

    def resident(self, account_id: str) -> bool:
        return self._mirror.is_resident(account_id)

    # -- the Store interface -----------------------------------------------------------------

    def submit(self, account_id: str, events: list[Event], now_ms: int) -> Future[IngestResult]:
        # The per-event work happens here, on the caller's thread, not the writer's.
        dialect = self._dialect
        job = WriteJob.prepare(
            account_id,
            events,
            now_ms - self.retention_ms,
            self._tables,
            dialect.sql,
            dialect.stored_id,
            statements=not dialect.set_based,
        )
        self._jobs.put(job)
        return job.future

    def version(self, account_id: str, tables: Sequence[Table] | None = None) -> int:
        if self._dialect.shared:
            state = self._mirror.fresh(account_id)
        else:
            state = self._mirror.resident(account_id)
        return state.version if tables is None else state.version_of(tables)

    @contextmanager
    def snapshot(self, account_id: str) -> Iterator[AccountState]:
        state = self._mirror.get(account_id)
        if state is None or state.db_version < 0:  # not in memory, or not loaded yet
            if self._dialect.shared:
                state = self._mirror.fresh(account_id)
            else:
                state = self._mirror.resident(account_id)
        with state.lock:
            yield state

    def on_applied(self, callback: Callable[[str], None]) -> None:
        # Registered before serving starts; the completer reads the list, never changes it.
        self._listeners.append(callback)

    def ping(self) -> None:
        if not self._writer.is_alive():
            raise StoreUnavailable("the writer thread has stopped")
        self._db.read(lambda conn: conn.execute(SCHEMA_VERSION_QUERY).fetchone())

    def purge(self, now_ms: int) -> int:
        """Remove everything older than the retention now (on the writer thread)."""
        job = CallJob(lambda conn: self._retention.purge_all(conn, now_ms, self._call_completer))
        self._jobs.put(job)
        removed: int = job.future.result()
        self._completer_caught_up()  # memory has dropped them too
        return removed

    def transaction(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn`` in one transaction on the writer thread's connection, made durable."""

        job = CallJob(lambda conn: self._db.in_transaction(conn, fn))
        self._jobs.put(job)
        done: T = job.future.result()
        self._call_completer(self._dialect.sync).result()  # where the log is synced
        return done

    def table_stats(self) -> TableStats | None:
        return self._db.read(lambda conn: self._retention.stats(conn))

    def close(self) -> None:
        if not self._jobs.close():
            return
        self._writer.join()
        self._completer.join()
        if self._owns_database:
            self._db.close()

    # -- the writer thread -----------------------------------------------------------------

    def _run_writer(self) -> None:
        try:
            self._write_loop()
        finally:
            self._completions.put(_STOP)

    def _write_loop(self) -> None:
        self._notice_other_writers()  # the starting point: nothing is noticed yet
        next_check = time.monotonic() + _EXTERNAL_CHECK_S
        stopping = False
        while not stopping:
            timeout = max(0.0, min(self._retention.next_step, next_check) - time.monotonic())
            group = self._jobs.take_group(timeout)
            stopping = group.stopping
            if group.writes:
                self._write_group(group.writes)
            for call in group.others:
                self._call(call)
            if not stopping and time.monotonic() >= next_check:
                self._notice_other_writers()
                next_check = time.monotonic() + _EXTERNAL_CHECK_S
            if not stopping and time.monotonic() >= self._retention.next_step:
                self._retention_step()
        # Jobs that raced with close() are refused rather than left hanging.
        self._jobs.refuse_rest()
        # SQLite deletes its write-ahead log when the last connection closes, and the
        # completer may not have synced it yet: it would fail groups already committed.
        self._completer_caught_up()

    def _call(self, call: object) -> None:
        assert isinstance(call, CallJob)
        try:
            with self._db.mapped_errors(), self._dialect.writer() as conn:
                call.future.set_result(call.fn(conn))
        except Exception as exc:
            call.future.set_exception(exc)

    def _notice_other_writers(self) -> None:
        """Another process committed to a non-shared database: load memory again."""
        if self._dialect.shared:
            return
        try:
            with self._db.mapped_errors(), self._dialect.writer() as conn:
                if not self._dialect.changed_elsewhere(conn):
                    return
                log.info("the store was changed by another process; reloading")
                # Every group handed over is applied first: a group applied after would
                # find its account gone, which is as good (its next load reads it).
                self._completer_caught_up()
                self._mirror.forget_all()
            self._retention.memory_reloaded()
        except StoreUnavailable:
            log.exception("could not look for other writers; will try again")

    def _retention_step(self) -> None:
        try:
            with self._db.mapped_errors(), self._dialect.writer() as conn:
                self._retention.step(conn, self._clock(), self._call_completer)
        except StoreUnavailable:
            log.exception("retention purge failed; will try again")
            self._retention.failed()

    # -- committing a group ------------------------------------------------------------------

    def _write_group(self, jobs: list[WriteJob]) -> None:
        """Commit every job of the group in one transaction, then hand it to the completer."""
        careful = self._careful
        attempt = 0
        while True:
            attempt += 1
            committing = False
            conn: Connection | None = None
            try:
                with self._dialect.writer() as conn:
                    staged, versions = self._stage(conn, jobs, careful)
                    committing = True
                    number = self._mirror.commit(conn)
                break
            except _Redo:
                careful = True
                attempt -= 1
            except Exception as exc:
                action = self._dialect.on_write_error(exc, conn, committing)
                if action is OnWriteError.FAIL or attempt >= _WRITE_TRIES:
                    self._fail(jobs, exc)
                    return
                log.info("write transaction tried again after %s", type(exc).__name__)
                time.sleep(0.002 * attempt)
        self._careful = any(result.duplicates for result, _ in staged)
        self._completions.put(_Committed(jobs, staged, versions, number))

    def _stage(
        self, conn: Connection, jobs: list[WriteJob], careful: bool
    ) -> tuple[list[Staged], dict[str, int]]:
        """Every statement of the group, in an open transaction (rolled back on failure)."""
        dialect = self._dialect
        dialect.begin(conn)
        try:
            accounts = sorted({job.account_id for job in jobs if job.live})
            if dialect.set_based:
                # The accounts are claimed last: writers of one account in other
                # processes then overlap their statements and queue for the versions
                # and COMMIT only.
                staged = self._stage_together(conn, jobs, careful)
                versions = dialect.claim_accounts(conn, accounts)
            else:
                versions = dialect.claim_accounts(conn, accounts)
                staged = [self._stage_job(conn, job, careful) for job in jobs]
            if versions:
                self._record_changes(conn, jobs, staged, versions)
        except BaseException:
            if dialect.in_transaction(conn):
                conn.execute("ROLLBACK")
            raise
        return staged, versions

    def _stage_job(self, conn: Connection, job: WriteJob, careful: bool) -> Staged:
        """Record the job's ids and add its rows: its result and deltas."""
        if careful:
            stored = self._dialect.stored_ids(conn, job.account_id, job.event_ids)
            duplicates = job.duplicates_given(stored)
        # Every id of the batch goes in; those already stored, or earlier in the batch,
        # are skipped by the conflict clause, and the row count says how many were new.
        inserted = sum(conn.execute(sql, params).rowcount for sql, params in job.id_inserts)
        if not careful:
            if inserted != len(job.live):
                raise _Redo
            staged = job.all_fresh()
        else:
            if inserted != len(job.live) - len(duplicates):
                raise RuntimeError(f"{inserted} event ids recorded of {len(job.live)}")
            staged = job.without(duplicates)
        # A row may come again in a later job of the group: each statement adds to what
        # the earlier ones wrote.
        upserts = job.upserts if staged[1] is job.deltas else job.statements_for(staged[1])
        for sql, params in upserts:
            conn.execute(sql, params)
        return staged

    def _stage_together(
        self, conn: Connection, jobs: list[WriteJob], careful: bool
    ) -> list[Staged]:
        """The group's ids in one statement, then its rows in one per table."""
        dialect = self._dialect
        ids = group_ids(jobs)
        # An id twice in the group is a duplicate for sure: ask which ids were new.
        careful = careful or ids.repeated
        new = dialect.insert_ids(conn, ids.accounts, ids.ids, ids.buckets, careful)
        if isinstance(new, set):
            staged = staged_given(jobs, new)
        elif new == len(ids.ids):
            staged = [job.all_fresh() for job in jobs]
        else:
            raise _Redo  # some were stored before, and the count does not say which
        for table, rows in zip(self._tables, merged_rows(self._tables, jobs, staged), strict=True):
            dialect.upsert_rows(conn, table, rows)
        return staged

    def _record_changes(
        self,
        conn: Connection,
        jobs: list[WriteJob],
        staged: list[Staged],
        versions: dict[str, int],
    ) -> None:
        by_account: dict[str, list[list[Deltas]]] = {}
        for job, (_, deltas) in zip(jobs, staged, strict=True):
            if job.live:
                by_account.setdefault(job.account_id, []).append(deltas)
        changes = [
            (account_id, versions[account_id], encode(batches, self._tables))
            for account_id, batches in by_account.items()
        ]
        self._dialect.record_changes(conn, changes)

    def _fail(self, jobs: list[WriteJob], exc: BaseException) -> None:
        log.error("a write transaction failed; its batches were not stored: %s", exc)
        for job in jobs:
            job.future.set_exception(StoreUnavailable(f"the batch could not be stored: {exc}"))

    def _tell_listeners(self, accounts: list[str]) -> None:
        # Before the acknowledgements: a push may then leave before the sender hears back.
        for account_id in accounts:
            for listener in self._listeners:
                try:
                    listener(account_id)
                except Exception:
                    log.exception("a listener of applied changes failed")

    # -- the completer thread ----------------------------------------------------------------

    def _completer_caught_up(self) -> None:
        """Wait until the completer has handled everything handed to it so far."""
        self._call_completer(lambda: None).result()

    def _call_completer(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the completer, after every group handed over before it."""
        task = _Task(fn)
        self._completions.put(task)
        return task.future

    def _run_completer(self) -> None:
        stopping = False
        while not stopping:
            items = [self._completions.get()]
            while True:
                try:
                    items.append(self._completions.get_nowait())
                except queue.Empty:
                    break
            failure: OSError | None = None
            if any(isinstance(item, _Committed) for item in items):
                try:
                    self._dialect.sync()
                except OSError as exc:
                    log.exception("committed groups could not be made durable")
                    failure = exc
            for item in items:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Committed):
                    self._complete(item, failure)
                elif isinstance(item, _Task):
                    try:
                        item.future.set_result(item.fn())
                    except Exception as exc:
                        item.future.set_exception(exc)

    def _complete(self, group: _Committed, failure: OSError | None) -> None:
        # Committed rows go to memory even when the sync failed, so memory keeps
        # matching the database; the senders are told to retry, and the retried events
        # are then counted as duplicates.
        by_account: dict[str, list[list[Deltas]]] = {}
        for job, (_, deltas) in zip(group.jobs, group.staged, strict=True):
            if any(deltas):
                by_account.setdefault(job.account_id, []).append(deltas)
        changed = sorted(set(by_account) | set(group.versions))
        for account_id in changed:
            version = group.versions.get(account_id)
            self._mirror.apply(account_id, version, group.number, by_account.get(account_id, []))
        self._tell_listeners(changed)
        for job, (result, _) in zip(group.jobs, group.staged, strict=True):
            if failure is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(
                    StoreUnavailable(f"the batch may not be durable: {failure}")
                )
