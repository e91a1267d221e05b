"""The shared engine: one PostgreSQL database behind any number of API processes.

Writes work as in the SQLite engine: one writer thread per process commits every
pending batch in one transaction (group commit) with the same statements (schema.py),
and the rollups that answer queries live in memory (memory.py). What changes is that
other processes, on this host or others, write to the same database:

- Each account row carries a version, bumped first thing in every transaction that
  writes to the account. The row lock it takes is held until COMMIT, so transactions
  on one account commit in version order, and two writers never wait on each other's
  event ids or rollup rows in opposite orders (accounts are locked in sorted order).
- Each such transaction also writes its rollup deltas to ``rollup_change`` under its
  version. A query first reads the account's version (one indexed row): when it is
  newer than the one this process has applied, the missing deltas are read and
  added to memory before answering. An event acknowledged by any process is thus
  visible to the next query on every process, at the cost of one small round trip.
- Deltas are kept for a few minutes; a process that fell further behind on an
  account (or never read it) loads that account's rollups afresh.

Serialization failures, deadlocks and connections lost before COMMIT are retried
inside the store; a batch is still all or nothing.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from engactivity.clock import Clock
from engactivity.events import Event
from engactivity.query import Selection
from engactivity.response import Row
from engactivity.store.base import (
    MIN_RETENTION_MS,
    IngestResult,
    RollupKey,
    StoreUnavailable,
    add_rollups,
    retention_cutoff_bucket,
)
from engactivity.store.memory import AccountRollups, FragmentLookup, Reading
from engactivity.store.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    SEEN_EVENT_BY_BUCKET,
    rollup_upserts,
    select_rollups,
)
from engactivity.store.writer import JobQueue, WriteJob
from engactivity.timeframe import Span

log = logging.getLogger(__name__)

T = TypeVar("T")

POSTGRES_SCHEMA_VERSION = 1
"""Version of the PostgreSQL-only part of the schema (MIGRATIONS below)."""

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        ALTER TABLE account ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE IF NOT EXISTS rollup_change (
            account_id TEXT        NOT NULL,
            version    BIGINT      NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            deltas     BYTEA       NOT NULL,
            PRIMARY KEY (account_id, version)
        );
        """,
    ),
]
"""Steps applied in order to a database whose postgres_schema_version is lower."""

_MIGRATION_LOCK = 0x656E6761_6D696772  # "engamigr": one migrating process at a time
_PURGE_LOCK = 0x656E6761_70757267  # "engapurg": one purging process at a time

_PURGE_EVERY_S = 30.0
_PURGE_AGAIN_S = 0.05
_CHANGES_KEPT = "5 minutes"
"""How long rollup deltas are kept for other processes to catch up from."""
_WRITE_TRIES = 8
_SUSPECT_S = 2.0
_SUSPECT_WAIT_S = 0.25
"""For this long after a connection failed, wait at most this long for a connection."""
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
_DELTA_DTYPE = np.dtype("<i8")
_DELTA_COLUMNS = 9
"""bucket, skill, has agent, agent, five counters."""


@functools.lru_cache(maxsize=256)
def pg(sql: str) -> str:
    """A statement of schema.py in psycopg's placeholder style (none of them has a '?'
    or '%' of its own)."""
    return sql.replace("?", "%s")


def pg_schema() -> str:
    """The shared schema in PostgreSQL's dialect (it has no WITHOUT ROWID tables)."""
    return SCHEMA.replace(") WITHOUT ROWID;", ");") + SEEN_EVENT_BY_BUCKET


def _db_event_id(event_id: str) -> str:
    # PostgreSQL text cannot hold NUL, which JSON strings may: escape it (and the
    # escape character, so distinct ids stay distinct).
    if "\0" in event_id or "\\" in event_id:
        return event_id.replace("\\", "\\\\").replace("\0", "\\0")
    return event_id


def _unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"the database is not available: {exc}")


def migrate(conninfo: str) -> int:
    """Create or upgrade the schema; idempotent and safe from many processes at once.

    Returns the PostgreSQL schema version now in force.
    """
    with (
        psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn,
        conn.transaction(),
    ):
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(pg_schema())
        found: dict[str, str] = dict(
            conn.execute(
                "SELECT key, value FROM meta WHERE key IN "
                "('schema_version', 'postgres_schema_version')"
            ).fetchall()
        )
        shared = int(found.get("schema_version", 0))
        current = int(found.get("postgres_schema_version", 0))
        if shared > SCHEMA_VERSION or current > POSTGRES_SCHEMA_VERSION:
            raise StoreUnavailable(
                f"the database has schema {shared}/{current}, newer than this "
                f"engactivity's {SCHEMA_VERSION}/{POSTGRES_SCHEMA_VERSION}: upgrade it"
            )
        for version, step in MIGRATIONS:
            if version > current:
                conn.execute(step)
        upsert_meta = (
            "INSERT INTO meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        conn.execute(upsert_meta, ("schema_version", str(SCHEMA_VERSION)))
        conn.execute(upsert_meta, ("postgres_schema_version", str(POSTGRES_SCHEMA_VERSION)))
    return POSTGRES_SCHEMA_VERSION


class _Mirror:
    """This process's copy of one account's rollups and the database version it reflects."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        """Held while the copy is brought up to date (one catch-up at a time)."""
        self.rollups = AccountRollups()
        self.version = -1
        """Database version applied; -1 until the account is loaded."""


class PostgresStore:
    shared = True
    """Other processes write to the same data: version() asks the database (blocking)."""

    def __init__(
        self,
        conninfo: str,
        clock: Clock,
        retention_ms: int = MIN_RETENTION_MS,
        pool_size: int = 8,
        timeout_s: float = 5.0,
    ) -> None:
        if retention_ms < MIN_RETENTION_MS:
            raise ValueError("retention must be at least 24 h 10 min")
        self.retention_ms = retention_ms
        self.purged_rows = 0
        self._clock = clock
        try:
            migrate(conninfo)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot prepare the database: {exc}") from exc
        self._pool = ConnectionPool(
            conninfo,
            min_size=2,
            max_size=max(2, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout_s))},
            timeout=timeout_s,
            name="engactivity",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout_s * 2)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to the database: {exc}") from exc
        self._failed_at = -1e9
        """When a connection last failed (time.monotonic)."""
        self._mirrors: dict[str, _Mirror] = {}
        self._mirrors_lock = threading.Lock()
        self._jobs = JobQueue()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._run_writer, name="pg-writer", daemon=True)
        self._writer.start()
        self._purger = threading.Thread(target=self._run_purger, name="pg-purger", daemon=True)
        self._purger.start()

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        # Right after a failure the database is probably down: answer 503 soon rather
        # than make every request wait the whole timeout for a connection.
        suspect = time.monotonic() - self._failed_at < _SUSPECT_S
        try:
            with self._pool.connection(timeout=_SUSPECT_WAIT_S if suspect else None) as conn:
                yield conn
        except PoolTimeout as exc:
            self._failed_at = time.monotonic()
            raise _unavailable(exc) from exc
        except psycopg.OperationalError:
            self._failed_at = time.monotonic()
            raise

    def _read(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run a read; a connection found broken (the server restarted) is replaced once."""
        for attempt in (1, 2):
            try:
                with self._conn() as conn:
                    return fn(conn)
            except psycopg.OperationalError as exc:
                if attempt == 2 or not conn.broken:
                    raise _unavailable(exc) from exc
                # The server restarted: the other idle connections of the pool are
                # broken too. Replace them all now, not one failed request at a time.
                self._pool.check()
            except psycopg.Error as exc:
                raise _unavailable(exc) from exc
        raise AssertionError("unreachable")

    # -- the public interface ----------------------------------------------------------

    def submit(self, account_id: str, events: list[Event], now_ms: int) -> Future[IngestResult]:
        # The per-event work happens here, on the caller's thread, not the writer's.
        job = WriteJob.prepare(account_id, events, now_ms, self.retention_ms, _db_event_id)
        self._jobs.put(job)
        return job.future

    def query(self, account_id: str, span: Span, skills: Selection, agents: Selection) -> list[Row]:
        sql, params = select_rollups(account_id, span, skills, agents)

        def run(conn: psycopg.Connection[Any]) -> list[Row]:
            rows = conn.execute(pg(sql), params).fetchall()
            return [
                (int(k), skill, agent if has else None, (int(a), int(b), int(c), int(d), int(e)))
                for k, skill, has, agent, a, b, c, d, e in rows
            ]

        return self._read(run)

    def version(self, account_id: str) -> int:
        """Bring this process's copy of the account up to date; its version.

        Blocks on one database round trip: call it off the event loop.
        """
        return self._fresh(account_id).rollups.version

    def read(
        self,
        account_id: str,
        span: Span,
        skills: Selection,
        agents: Selection,
        lookup: FragmentLookup | None = None,
    ) -> Reading:
        # Answers call version() first, which brought the copy up to date.
        mirror = self._mirrors.get(account_id)
        if mirror is None or mirror.version < 0:
            mirror = self._fresh(account_id)
        return mirror.rollups.read(span, skills, agents, lookup)

    def ping(self) -> None:
        if not self._writer.is_alive():
            raise StoreUnavailable("the writer thread has stopped")
        self._read(lambda conn: conn.execute("SELECT 1").fetchone())

    def purge(self, now_ms: int) -> int:
        total = 0
        while (removed := self._purge_step(now_ms, wait=True)) > 0:
            total += removed
        return total

    def close(self) -> None:
        if not self._jobs.close():
            return
        self._stop.set()
        self._writer.join()
        self._purger.join()
        self._pool.close()

    # -- the in-memory copies ----------------------------------------------------------

    def _mirror(self, account_id: str) -> _Mirror:
        found = self._mirrors.get(account_id)
        if found is None:
            with self._mirrors_lock:
                found = self._mirrors.setdefault(account_id, _Mirror())
        return found

    def _fresh(self, account_id: str) -> _Mirror:
        """The account's copy, with every change committed before this call."""
        mirror = self._mirror(account_id)

        def current(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute(
                "SELECT version FROM account WHERE account_id = %s", (account_id,)
            ).fetchone()
            return 0 if row is None else int(row[0])

        target = self._read(current)
        if mirror.version >= target:
            return mirror
        with mirror.lock:
            if mirror.version < target:
                self._read(lambda conn: self._catch_up(conn, account_id, mirror, target))
        return mirror

    def _catch_up(
        self, conn: psycopg.Connection[Any], account_id: str, mirror: _Mirror, target: int
    ) -> None:
        """Add the deltas of versions after the mirror's up to ``target`` (under its lock)."""
        if mirror.version >= 0:
            rows = conn.execute(
                "SELECT deltas FROM rollup_change "
                "WHERE account_id = %s AND version > %s AND version <= %s",
                (account_id, mirror.version, target),
            ).fetchall()
            if len(rows) == target - mirror.version:
                for (deltas,) in rows:
                    mirror.rollups.apply(_decode(deltas))
                mirror.version = target
                return
        # Never loaded, or some deltas were already pruned: load the account afresh.
        fresh = AccountRollups()
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = conn.execute(
                "SELECT version FROM account WHERE account_id = %s", (account_id,)
            ).fetchone()
            version = 0 if row is None else int(row[0])
            cursor = conn.execute(
                "SELECT bucket, skill_id, has_agent, agent_id, interactive_chats, "
                "non_interactive_chats, handling_time, non_interactive_handling_time, connected "
                "FROM rollup WHERE account_id = %s AND bucket >= %s",
                (account_id, retention_cutoff_bucket(self._clock(), self.retention_ms)),
            )
            while chunk := cursor.fetchmany(50_000):
                fresh.apply(((b, s, h, a), counters) for b, s, h, a, *counters in chunk)
        mirror.rollups = fresh
        mirror.version = version

    # -- the writer thread -------------------------------------------------------------

    def _run_writer(self) -> None:
        stopping = False
        while not stopping:
            group = self._jobs.take_group()
            stopping = group.stopping
            if group.writes:
                self._write_group(group.writes)
        self._jobs.refuse_rest()

    def _write_group(self, jobs: list[WriteJob]) -> None:
        """Commit every job of the group in one transaction, then acknowledge them."""
        for attempt in range(1, _WRITE_TRIES + 1):
            committing = False
            try:
                with self._conn() as conn, conn.transaction():
                    results, rollups, versions = self._stage_group(conn, jobs)
                    committing = True
                break
            except _RETRYABLE as exc:
                if attempt == _WRITE_TRIES:
                    return self._fail(jobs, exc)
                log.info("write transaction retried after %s", type(exc).__name__)
                time.sleep(0.002 * attempt)
            except psycopg.OperationalError as exc:
                # Lost before COMMIT was sent: nothing was stored, so trying again on a
                # fresh connection is safe. During COMMIT the outcome is unknown: fail,
                # and the producer's resend is deduplicated.
                if committing or attempt == _WRITE_TRIES or not conn.broken:
                    return self._fail(jobs, exc)
                self._pool.check()
            except (psycopg.Error, StoreUnavailable) as exc:
                return self._fail(jobs, exc)
        # Applied here when nothing else changed the account meanwhile; otherwise the
        # next query catches up from the database.
        for account_id, version in versions.items():
            mirror = self._mirror(account_id)
            with mirror.lock:
                if mirror.version == version - 1:
                    mirror.rollups.apply(rollups[account_id].items())
                    mirror.version = version
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)
        return None

    def _fail(self, jobs: list[WriteJob], exc: BaseException) -> None:
        log.warning("a write transaction failed; its batches were not stored: %s", exc)
        for job in jobs:
            job.future.set_exception(StoreUnavailable(f"the batch could not be stored: {exc}"))

    def _stage_group(
        self, conn: psycopg.Connection[Any], jobs: list[WriteJob]
    ) -> tuple[list[IngestResult], dict[str, dict[RollupKey, list[int]]], dict[str, int]]:
        # Lock the accounts written to, in one order for every process: no deadlock.
        accounts = sorted({job.account_id for job in jobs if job.batch.live})
        versions: dict[str, int] = {}
        for account_id in accounts:
            row = conn.execute(
                "INSERT INTO account (account_id, version) VALUES (%s, 1) "
                "ON CONFLICT (account_id) DO UPDATE SET version = account.version + 1 "
                "RETURNING version",
                (account_id,),
            ).fetchone()
            assert row is not None
            versions[account_id] = int(row[0])
        results: list[IngestResult] = []
        # Fresh dicts each try: a retried transaction must not add a job's deltas twice.
        rollups: dict[str, dict[RollupKey, list[int]]] = {a: {} for a in accounts}
        for job in jobs:
            returned: list[tuple[str]] = []
            for sql, params in job.id_inserts:
                returned += conn.execute(pg(sql), params).fetchall()
            result, deltas = job.staged(returned)
            results.append(result)
            if deltas:
                add_rollups(deltas, rollups[job.account_id])
        for account_id in accounts:
            items = sorted(rollups[account_id].items())
            for sql, params in rollup_upserts(account_id, items):
                conn.execute(pg(sql), params)
            conn.execute(
                "INSERT INTO rollup_change (account_id, version, deltas) VALUES (%s, %s, %s)",
                (account_id, versions[account_id], _encode(items)),
            )
        return results, rollups, versions

    # -- retention ---------------------------------------------------------------------

    def _run_purger(self) -> None:
        while not self._stop.is_set():
            try:
                removed = self._purge_step(self._clock(), wait=False)
            except StoreUnavailable as exc:
                log.warning("retention purge failed; will try again: %s", exc)
                removed = 0
            self._stop.wait(_PURGE_AGAIN_S if removed else _PURGE_EVERY_S)

    def _purge_step(self, now_ms: int, wait: bool) -> int:
        """Delete the oldest expired bucket of each account and table; rows removed.

        Each account's step is its own short transaction touching only old rows, so
        ingestion and queries never wait for it. One process purges at a time.
        """
        cutoff = retention_cutoff_bucket(now_ms, self.retention_ms)
        for mirror in list(self._mirrors.values()):
            mirror.rollups.drop_before(cutoff)

        def step(conn: psycopg.Connection[Any]) -> int:
            removed = 0
            accounts = [r[0] for r in conn.execute("SELECT account_id FROM account").fetchall()]
            for account_id in accounts:
                with conn.transaction():
                    lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
                    got = conn.execute(f"SELECT {lock}(%s)", (_PURGE_LOCK,)).fetchone()
                    if got is None or got[0] is False:
                        return removed  # another process is purging
                    for table in ("rollup", "seen_event"):
                        cursor = conn.execute(
                            f"DELETE FROM {table} WHERE account_id = %s AND bucket = "
                            f"(SELECT MIN(bucket) FROM {table} WHERE account_id = %s "
                            "AND bucket < %s)",
                            (account_id, account_id, cutoff),
                        )
                        removed += max(0, cursor.rowcount)
                    conn.execute(
                        "DELETE FROM rollup_change WHERE account_id = %s "
                        f"AND created_at < now() - interval '{_CHANGES_KEPT}'",
                        (account_id,),
                    )
            return removed

        removed = self._read(step)
        self.purged_rows += removed
        return removed


def _encode(items: list[tuple[RollupKey, list[int]]]) -> bytes:
    if not items:
        return b""
    flat = [value for key, counters in items for value in (*key, *counters)]
    return np.array(flat, _DELTA_DTYPE).tobytes()


def _decode(deltas: bytes) -> list[tuple[RollupKey, list[int]]]:
    if not deltas:
        return []
    array = np.frombuffer(deltas, _DELTA_DTYPE).reshape(-1, _DELTA_COLUMNS).tolist()
    return [((b, s, h, a), counters) for b, s, h, a, *counters in array]
