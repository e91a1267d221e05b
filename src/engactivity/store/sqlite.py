"""The embedded engine: one SQLite file in WAL mode.

One writer thread owns the only write connection and commits every pending batch in
one transaction (group commit), so there is never lock contention between writers.
Readers use their own connections, one per thread, and never wait for the writer.

Making a commit durable is the job of a second thread, the completer. The writer
commits without waiting for the disk (``synchronous=NORMAL``) and hands the group
over; the completer fsyncs the write-ahead log, which makes every commit before it
durable, then applies the groups to memory and acknowledges them, in commit order.
So the disk flush of one group overlaps the SQL work of the next, and one fsync
serves every group committed meanwhile. Nothing is acknowledged before its fsync:
the guarantee is the same as ``synchronous=FULL``, which syncs the log at each commit.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from engactivity.clock import Clock
from engactivity.events import Event
from engactivity.metrics import Counters
from engactivity.query import Selection
from engactivity.response import Row
from engactivity.store.base import (
    MIN_RETENTION_MS,
    IngestResult,
    RollupKey,
    StoreUnavailable,
    retention_cutoff_bucket,
)
from engactivity.store.memory import FragmentLookup, MemoryRollups, Reading
from engactivity.store.schema import (
    ID_ROWS_PER_STATEMENT,
    SCHEMA,
    SCHEMA_VERSION,
    recorded_ids,
    rollup_upserts,
    select_rollups,
)
from engactivity.store.writer import JobQueue, WriteJob
from engactivity.timeframe import Span

log = logging.getLogger(__name__)

Synchronous = Literal["FULL", "NORMAL"]

_PURGE_EVERY_S = 30.0
_PURGE_AGAIN_S = 0.05
"""When old data remains after one purge step, the next step comes this soon."""
_EXTERNAL_CHECK_S = 1.0
"""How often the writer looks for commits by other processes (e.g. ``import --store``)."""
_LOAD_CHUNK = 50_000
_SWEEP_IDS = 20_000
"""Event ids looked at per retention step (a few milliseconds of the writer's time)."""


def path_from_url(url: str) -> Path:
    """``sqlite:///rel/x.db`` -> ``rel/x.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    rest = url.removeprefix("sqlite:///")
    if not rest or rest.startswith(":memory:"):
        raise ValueError("a SQLite store needs a file path, e.g. sqlite:///./data/engactivity.db")
    return Path(rest)


@dataclass
class _CallJob:
    """Runs ``fn`` on the writer thread with the write connection."""

    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any] = field(default_factory=Future)


@dataclass
class _Task:
    """Runs ``fn`` on the completer thread, in order with the groups."""

    fn: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


@dataclass
class _Committed:
    """A group the writer committed: made durable, applied and acknowledged later."""

    jobs: list[WriteJob]
    results: list[IngestResult]
    deltas: list[dict[RollupKey, list[int]]]


_STOP = object()


class SQLiteStore:
    def __init__(
        self,
        path: Path,
        clock: Clock,
        retention_ms: int = MIN_RETENTION_MS,
        synchronous: Synchronous = "FULL",
    ) -> None:
        if retention_ms < MIN_RETENTION_MS:
            raise ValueError("retention must be at least 24 h 10 min")
        self.path = path
        self.retention_ms = retention_ms
        self._clock = clock
        self._synchronous = synchronous
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)
            # Files made by earlier versions have it; ids are swept instead (schema.py).
            conn.execute("DROP INDEX IF EXISTS seen_event_by_bucket")
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
        self._memory = self._load_memory()
        self._jobs = JobQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.purged_rows = 0
        """Rows removed by retention since start (read by the metrics endpoint)."""
        self._known_accounts: set[str] = set()
        """Accounts already in the account table (touched by the writer thread only)."""
        self._swept_to: dict[str, int] = {}
        """Per account, the cutoff bucket of its last complete sweep of event ids."""
        self._memory_cutoff: int | None = None
        """The cutoff bucket memory last dropped buckets before (writer thread only)."""
        self._careful = False
        """The last group met duplicates: look up stored ids before inserting (writer only)."""
        self._sweeps: dict[str, tuple[str, int]] = {}
        """Per account with a sweep under way: the last event id swept, and the cutoff
        bucket in force when the sweep began."""
        self._completions: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._completer = threading.Thread(
            target=self._run_completer, name="sqlite-completer", daemon=True
        )
        self._completer.start()
        self._writer = threading.Thread(target=self._run_writer, name="sqlite-writer", daemon=True)
        self._writer.start()

    # -- connections -------------------------------------------------------------------

    def _connect(self, synchronous: Synchronous | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous or self._synchronous}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _load_memory(self) -> MemoryRollups:
        """Every rollup row of the file, in memory (runs at start and after external writes)."""
        memory = MemoryRollups()
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT account_id, bucket, skill_id, has_agent, agent_id, interactive_chats, "
                "non_interactive_chats, handling_time, non_interactive_handling_time, connected "
                "FROM rollup ORDER BY account_id"
            )
            while chunk := cursor.fetchmany(_LOAD_CHUNK):
                by_account: dict[str, list[tuple[RollupKey, Counters]]] = {}
                for account_id, bucket, skill, has, agent, a, b, c, d, e in chunk:
                    by_account.setdefault(account_id, []).append(
                        ((bucket, skill, has, agent), (a, b, c, d, e))
                    )
                for account_id, rows in by_account.items():
                    memory.account(account_id).apply(rows)
        return memory

    # -- the public interface ----------------------------------------------------------

    def submit(self, account_id: str, events: list[Event], now_ms: int) -> Future[IngestResult]:
        # The per-event work happens here, on the caller's thread, not the writer's.
        job = WriteJob.prepare(account_id, events, now_ms, self.retention_ms, returning=False)
        job.rollup_inserts = list(rollup_upserts(account_id, list(job.batch.rollups.items())))
        self._jobs.put(job)
        return job.future

    def query(self, account_id: str, span: Span, skills: Selection, agents: Selection) -> list[Row]:
        sql, params = select_rollups(account_id, span, skills, agents)
        try:
            cursor = self._reader().execute(sql, params)
            return [
                (k, skill, agent if has else None, (a, b, c, d, e))
                for k, skill, has, agent, a, b, c, d, e in cursor
            ]
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the store could not be read: {exc}") from exc

    def read(
        self,
        account_id: str,
        span: Span,
        skills: Selection,
        agents: Selection,
        lookup: FragmentLookup | None = None,
    ) -> Reading:
        return self._memory.read(account_id, span, skills, agents, lookup)

    def version(self, account_id: str) -> int:
        return self._memory.version(account_id)

    def ping(self) -> None:
        if not self._writer.is_alive():
            raise StoreUnavailable("the writer thread has stopped")
        try:
            self._reader().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the store does not answer: {exc}") from exc

    def purge(self, now_ms: int) -> int:
        """Remove everything older than the retention now (on the writer thread)."""

        def purge_all(conn: sqlite3.Connection) -> int:
            total, more = 0, True
            while more:
                removed, more = self._purge_step(conn, now_ms)
                total += removed
            return total

        job: _CallJob = _CallJob(purge_all)
        self._jobs.put(job)
        result: int = job.future.result()
        self._completer_caught_up()  # memory has dropped them too
        return result

    def close(self) -> None:
        if not self._jobs.close():
            return
        self._writer.join()
        self._completer.join()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # -- the writer thread -------------------------------------------------------------

    def _run_writer(self) -> None:
        try:
            self._write_loop()
        finally:
            self._completions.put(_STOP)

    def _write_loop(self) -> None:
        # The completer makes commits durable (see the module's docstring).
        conn = self._connect("NORMAL")
        conn.execute("PRAGMA cache_size=-262144")
        next_purge = time.monotonic()
        next_external_check = time.monotonic() + _EXTERNAL_CHECK_S
        (data_version,) = conn.execute("PRAGMA data_version").fetchone()
        stopping = False
        while not stopping:
            timeout = max(0.0, min(next_purge, next_external_check) - time.monotonic())
            group = self._jobs.take_group(timeout)
            stopping = group.stopping
            if group.writes:
                self._write_group(conn, group.writes)
            for call in group.others:
                assert isinstance(call, _CallJob)
                try:
                    call.future.set_result(call.fn(conn))
                except Exception as exc:
                    call.future.set_exception(exc)
            if not stopping and time.monotonic() >= next_external_check:
                # Another process committed to the file: the memory copy is stale.
                (seen,) = conn.execute("PRAGMA data_version").fetchone()
                if seen != data_version:
                    data_version = seen
                    log.info("the store file was changed by another process; reloading")
                    # Every group handed over must be in memory before the copy is
                    # replaced, or the new copy would get it twice.
                    self._completer_caught_up()
                    self._memory = self._load_memory()
                    self._memory_cutoff = None
                next_external_check = time.monotonic() + _EXTERNAL_CHECK_S
            if not stopping and time.monotonic() >= next_purge:
                try:
                    _, more = self._purge_step(conn, self._clock())
                except sqlite3.Error:
                    log.exception("retention purge failed; will try again")
                    more = False
                next_purge = time.monotonic() + (_PURGE_AGAIN_S if more else _PURGE_EVERY_S)
        # Jobs that raced with close() are refused rather than left hanging.
        self._jobs.refuse_rest()
        # SQLite deletes the write-ahead log when its last connection closes, and the
        # completer may not have synced it yet: it would fail groups already committed.
        self._completer_caught_up()
        conn.close()

    def _write_group(self, conn: sqlite3.Connection, jobs: list[WriteJob]) -> None:
        """Commit every job of the group in one transaction, then hand it to the completer.

        The ids of a batch are first inserted optimistically, counting the new ones
        without naming them. When a batch had duplicates, the count says so but not
        which; the transaction is then rolled back and the group done again with a
        look-up of the stored ids first (careful). Groups stay careful while they keep
        meeting duplicates, so a stream that resends a lot pays no second attempt.
        """
        try:
            staged = None if self._careful else self._try_group(conn, jobs, careful=False)
            if staged is None:
                staged = self._try_group(conn, jobs, careful=True)
                assert staged is not None
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.exception("a write transaction failed; its batches were not stored")
            for job in jobs:
                job.future.set_exception(StoreUnavailable(f"the batch could not be stored: {exc}"))
            return
        results, deltas = staged
        self._careful = any(result.duplicates for result in results)
        self._completions.put(_Committed(jobs, results, deltas))

    def _try_group(
        self, conn: sqlite3.Connection, jobs: list[WriteJob], careful: bool
    ) -> tuple[list[IngestResult], list[dict[RollupKey, list[int]]]] | None:
        """Commit the group; None (rolled back) when an optimistic try met a duplicate."""
        results: list[IngestResult] = []
        deltas: list[dict[RollupKey, list[int]]] = []
        new_accounts: set[str] = set()
        conn.execute("BEGIN IMMEDIATE")
        for job in jobs:
            account_id = job.account_id
            live = job.batch.live
            if live and account_id not in self._known_accounts and account_id not in new_accounts:
                conn.execute("INSERT OR IGNORE INTO account(account_id) VALUES (?)", (account_id,))
                new_accounts.add(account_id)
            staged = _record_ids(conn, job, careful)
            if staged is None:
                conn.execute("ROLLBACK")
                return None
            result, rollups = staged
            results.append(result)
            deltas.append(rollups)
            # A key may come again in a later job of the group: each statement adds to
            # what the earlier ones wrote.
            upserts = job.rollup_inserts
            if upserts is None or rollups is not job.batch.rollups:
                upserts = list(rollup_upserts(account_id, list(rollups.items())))
            for sql, params in upserts:
                conn.execute(sql, params)
        conn.execute("COMMIT")
        self._known_accounts |= new_accounts
        return results, deltas

    def _completer_caught_up(self) -> None:
        """Wait until the completer has handled everything handed to it so far."""
        self._call_completer(lambda: None).result()

    def _call_completer(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the completer, after every group handed over before it."""
        task = _Task(fn)
        self._completions.put(task)
        return task.future

    # -- the completer thread ----------------------------------------------------------

    def _run_completer(self) -> None:
        wal = _WriteAheadLog(Path(f"{self.path}-wal"))
        stopping = False
        while not stopping:
            items = [self._completions.get()]
            while True:
                try:
                    items.append(self._completions.get_nowait())
                except queue.Empty:
                    break
            failure: OSError | None = None
            if self._synchronous == "FULL" and any(isinstance(i, _Committed) for i in items):
                try:
                    wal.sync()
                except OSError as exc:
                    log.exception("the write-ahead log could not be synced")
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
        wal.close()

    def _complete(self, group: _Committed, failure: OSError | None) -> None:
        # Committed rows go to memory even when the sync failed, so memory keeps
        # matching the file; the senders are told to retry, and the retried events
        # are then counted as duplicates.
        for job, rollups in zip(group.jobs, group.deltas, strict=True):
            if rollups:
                self._memory.account(job.account_id).apply(rollups.items())
        for job, result in zip(group.jobs, group.results, strict=True):
            if failure is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(
                    StoreUnavailable(f"the batch may not be durable: {failure}")
                )

    def _purge_step(self, conn: sqlite3.Connection, now_ms: int) -> tuple[int, bool]:
        """One small step of retention for each account: (rows removed, more to do).

        Rollups go by their oldest expired bucket (their key starts with the bucket).
        Event ids are keyed by id alone, so they are swept: one slice of the account's
        ids per step, each time a bucket has expired since the last sweep.
        """
        cutoff = retention_cutoff_bucket(now_ms, self.retention_ms)
        if cutoff != self._memory_cutoff:
            # Only when it moved: a step comes every 50 ms while a sweep goes on.
            self._call_completer(lambda: self._memory.drop_before(cutoff))
            self._memory_cutoff = cutoff
        removed, more = 0, False
        accounts = [row[0] for row in conn.execute("SELECT account_id FROM account")]
        for account_id in accounts:
            (oldest,) = conn.execute(
                "SELECT MIN(bucket) FROM rollup WHERE account_id = ?", (account_id,)
            ).fetchone()
            if oldest is not None and oldest < cutoff:
                removed += conn.execute(
                    "DELETE FROM rollup WHERE account_id = ? AND bucket = ?",
                    (account_id, oldest),
                ).rowcount
                more = True
            if account_id in self._sweeps or self._swept_to.get(account_id, -1) < cutoff:
                swept, done = self._sweep_ids(conn, account_id, cutoff)
                removed += swept
                more = more or not done
        self.purged_rows += removed
        return removed, more

    def _sweep_ids(
        self, conn: sqlite3.Connection, account_id: str, cutoff: int
    ) -> tuple[int, bool]:
        """Delete the expired ids of the account's next slice: (rows removed, sweep done)."""
        start, began = self._sweeps.get(account_id, ("", cutoff))  # every id sorts after ''
        (end,) = conn.execute(
            "SELECT MAX(event_id) FROM (SELECT event_id FROM seen_event "
            "WHERE account_id = ? AND event_id > ? ORDER BY event_id LIMIT ?)",
            (account_id, start, _SWEEP_IDS),
        ).fetchone()
        if end is None:
            if began < cutoff:
                # The cutoff moved during the sweep: the ids swept before it moved may
                # hold newly expired ones, so the sweep starts again.
                self._sweeps[account_id] = ("", cutoff)
                return 0, False
            self._sweeps.pop(account_id, None)
            self._swept_to[account_id] = cutoff
            return 0, True
        self._sweeps[account_id] = (end, began)
        cursor = conn.execute(
            "DELETE FROM seen_event WHERE account_id = ? AND event_id > ? AND event_id <= ? "
            "AND bucket < ?",
            (account_id, start, end, cutoff),
        )
        return cursor.rowcount, False


def _record_ids(
    conn: sqlite3.Connection, job: WriteJob, careful: bool
) -> tuple[IngestResult, dict[RollupKey, list[int]]] | None:
    """Insert the batch's ids: its result and rollup deltas, or None when an optimistic
    insert met a duplicate (the count falls short without saying which)."""
    live = job.batch.live
    if careful:
        ids = recorded_ids(job.id_inserts)
        duplicates = job.duplicates_given(_stored_ids(conn, job.account_id, ids), ids)
    # Every id of the batch goes in; those already stored, or earlier in the batch, are
    # skipped by the conflict clause, and the row count says how many were new.
    inserted = sum(conn.execute(sql, params).rowcount for sql, params in job.id_inserts)
    if not careful:
        return job.all_fresh() if inserted == len(live) else None
    if inserted != len(live) - len(duplicates):
        raise RuntimeError(f"{inserted} event ids recorded of {len(live) - len(duplicates)}")
    return job.without(duplicates)


def _stored_ids(conn: sqlite3.Connection, account_id: str, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` the account has stored already.

    Each statement answers with one row (a JSON array): the writer gives up the GIL
    for each row it steps through, and must win it back from the event loop.
    """
    stored: set[str] = set()
    for start in range(0, len(event_ids), ID_ROWS_PER_STATEMENT):
        chunk = event_ids[start : start + ID_ROWS_PER_STATEMENT]
        (found,) = conn.execute(
            "SELECT json_group_array(event_id) FROM seen_event "
            f"WHERE account_id = ? AND event_id IN ({','.join('?' * len(chunk))})",
            [account_id, *chunk],
        ).fetchone()
        stored.update(orjson.loads(found))
    return stored


class _WriteAheadLog:
    """The ``-wal`` file of the store, opened for fsync.

    Syncing the file flushes every frame written to it, whichever connection wrote
    them. SQLite keeps the file while a connection is open, but the inode is checked
    before each sync so that a replaced file is never synced by a stale descriptor.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._inode = -1

    def sync(self) -> None:
        inode = os.stat(self.path).st_ino
        if self._fd is None or inode != self._inode:
            self.close()
            self._fd = os.open(self.path, os.O_RDONLY)
            self._inode = os.fstat(self._fd).st_ino
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
