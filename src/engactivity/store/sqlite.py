"""The embedded engine: one SQLite file in WAL mode.

One writer thread owns the only write connection and commits every pending batch in
one transaction (group commit), so there is never lock contention between writers
and one fsync serves many batches. Readers use their own connections, one per
thread, and never wait for the writer.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
    fold_rollups,
    retention_cutoff_bucket,
)
from engactivity.store.memory import FragmentLookup, MemoryRollups, Reading
from engactivity.store.schema import (
    ROWS_PER_STATEMENT,
    SCHEMA,
    SCHEMA_VERSION,
    insert_new_ids,
    select_rollups,
    upsert_rollups,
)
from engactivity.timeframe import BUCKET_MS, Span

log = logging.getLogger(__name__)

Synchronous = Literal["FULL", "NORMAL"]

_MAX_GROUP_EVENTS = 100_000
"""Most events committed in one group transaction."""
_PURGE_EVERY_S = 30.0
_PURGE_AGAIN_S = 0.05
"""When old data remains after one purge step, the next step comes this soon."""
_EXTERNAL_CHECK_S = 1.0
"""How often the writer looks for commits by other processes (e.g. ``import --store``)."""
_LOAD_CHUNK = 50_000


def path_from_url(url: str) -> Path:
    """``sqlite:///rel/x.db`` -> ``rel/x.db``; ``sqlite:////abs/x.db`` -> ``/abs/x.db``."""
    rest = url.removeprefix("sqlite:///")
    if not rest or rest.startswith(":memory:"):
        raise ValueError("a SQLite store needs a file path, e.g. sqlite:///./data/engactivity.db")
    return Path(rest)


@dataclass
class _WriteJob:
    account_id: str
    events: list[Event]
    now_ms: int
    future: Future[IngestResult] = field(default_factory=Future)


@dataclass
class _CallJob:
    """Runs ``fn`` on the writer thread with the write connection."""

    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any] = field(default_factory=Future)


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
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
        self._memory = self._load_memory()
        self._jobs: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._state_lock = threading.Lock()
        self.purged_rows = 0
        """Rows removed by retention since start (read by the metrics endpoint)."""
        self._known_accounts: set[str] = set()
        """Accounts already in the account table (touched by the writer thread only)."""
        self._writer = threading.Thread(target=self._run_writer, name="sqlite-writer", daemon=True)
        self._writer.start()

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
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

    def _enqueue(self, job: _WriteJob | _CallJob) -> None:
        # Checked and queued under the lock that close() takes, so a job is either ahead
        # of the writer's stop mark (and handled) or refused here; none is left hanging.
        with self._state_lock:
            if self._closed:
                job.future.set_exception(StoreUnavailable("the store is closed"))
            else:
                self._jobs.put(job)

    def submit(self, account_id: str, events: list[Event], now_ms: int) -> Future[IngestResult]:
        job = _WriteJob(account_id, events, now_ms)
        self._enqueue(job)
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
            total = 0
            while (removed := self._purge_step(conn, now_ms)) > 0:
                total += removed
            return total

        job: _CallJob = _CallJob(purge_all)
        self._enqueue(job)
        result: int = job.future.result()
        return result

    def close(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(_STOP)
        self._writer.join()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    # -- the writer thread -------------------------------------------------------------

    def _run_writer(self) -> None:
        conn = self._connect()
        conn.execute("PRAGMA cache_size=-262144")
        next_purge = time.monotonic()
        next_external_check = time.monotonic() + _EXTERNAL_CHECK_S
        (data_version,) = conn.execute("PRAGMA data_version").fetchone()
        stopping = False
        while not stopping:
            timeout = max(0.0, min(next_purge, next_external_check) - time.monotonic())
            try:
                first: object = self._jobs.get(timeout=timeout)
            except queue.Empty:
                first = None
            writes: list[_WriteJob] = []
            calls: list[_CallJob] = []
            item = first
            pending_events = 0
            while item is not None:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _WriteJob):
                    writes.append(item)
                    pending_events += len(item.events)
                elif isinstance(item, _CallJob):
                    calls.append(item)
                if pending_events >= _MAX_GROUP_EVENTS:
                    break
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    item = None
            if writes:
                self._write_group(conn, writes)
            for call in calls:
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
                    self._memory = self._load_memory()
                next_external_check = time.monotonic() + _EXTERNAL_CHECK_S
            if not stopping and time.monotonic() >= next_purge:
                try:
                    removed = self._purge_step(conn, self._clock())
                except sqlite3.Error:
                    log.exception("retention purge failed; will try again")
                    removed = 0
                next_purge = time.monotonic() + (_PURGE_AGAIN_S if removed else _PURGE_EVERY_S)
        # Jobs that raced with close() are refused rather than left hanging.
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _WriteJob | _CallJob):
                item.future.set_exception(StoreUnavailable("the store is closed"))
        conn.close()

    def _write_group(self, conn: sqlite3.Connection, jobs: list[_WriteJob]) -> None:
        """Commit every job of the group in one transaction, then acknowledge them."""
        results: list[IngestResult] = []
        rollups: dict[str, dict[RollupKey, list[int]]] = {}
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                results.append(self._stage(conn, job, rollups.setdefault(job.account_id, {})))
            for account_id, rows in rollups.items():
                items = list(rows.items())
                for start in range(0, len(items), ROWS_PER_STATEMENT):
                    chunk = items[start : start + ROWS_PER_STATEMENT]
                    flat: list[object] = []
                    for key, counters in chunk:
                        flat.append(account_id)
                        flat.extend(key)
                        flat.extend(counters)
                    conn.execute(upsert_rollups(len(chunk)), flat)
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.exception("a write transaction failed; its batches were not stored")
            for job in jobs:
                job.future.set_exception(StoreUnavailable(f"the batch could not be stored: {exc}"))
            return
        # Visible in memory before anyone is told the batch is stored.
        for account_id, rows in rollups.items():
            if rows:
                self._memory.account(account_id).apply(rows.items())
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)

    def _stage(
        self, conn: sqlite3.Connection, job: _WriteJob, rollups: dict[RollupKey, list[int]]
    ) -> IngestResult:
        """Record the new event ids of one batch and fold its fresh events into ``rollups``."""
        # Expired: older than the retention; acknowledged but not stored.
        oldest_kept = job.now_ms - self.retention_ms
        live = [e for e in job.events if e.time_ms >= oldest_kept]
        expired = len(job.events) - len(live)
        if live and job.account_id not in self._known_accounts:
            conn.execute("INSERT OR IGNORE INTO account(account_id) VALUES (?)", (job.account_id,))
            self._known_accounts.add(job.account_id)
        new_ids: set[str] = set()
        for start in range(0, len(live), ROWS_PER_STATEMENT):
            chunk = live[start : start + ROWS_PER_STATEMENT]
            flat: list[object] = []
            for event in chunk:
                flat += (job.account_id, event.event_id, event.time_ms // BUCKET_MS)
            new_ids.update(row[0] for row in conn.execute(insert_new_ids(len(chunk)), flat))
        # An id new to the store was inserted by its first occurrence in the batch;
        # later occurrences are duplicates.
        fresh: list[Event] = []
        for event in live:
            if event.event_id in new_ids:
                new_ids.discard(event.event_id)
                fresh.append(event)
        fold_rollups(fresh, rollups)
        return IngestResult(accepted=len(fresh), duplicates=len(live) - len(fresh), expired=expired)

    def _purge_step(self, conn: sqlite3.Connection, now_ms: int) -> int:
        """Delete the oldest expired bucket of each account and table; rows removed."""
        cutoff = retention_cutoff_bucket(now_ms, self.retention_ms)
        self._memory.drop_before(cutoff)
        removed = 0
        accounts = [row[0] for row in conn.execute("SELECT account_id FROM account")]
        for account_id in accounts:
            for table in ("rollup", "seen_event"):
                (oldest,) = conn.execute(
                    f"SELECT MIN(bucket) FROM {table} WHERE account_id = ?", (account_id,)
                ).fetchone()
                if oldest is not None and oldest < cutoff:
                    cursor = conn.execute(
                        f"DELETE FROM {table} WHERE account_id = ? AND bucket = ?",
                        (account_id, oldest),
                    )
                    removed += cursor.rowcount
        self.purged_rows += removed
        return removed
