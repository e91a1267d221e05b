"""Online backup and restore of a SQLite store.

``backup`` copies a store with SQLite's online backup API over a connection of its
own: it works while a server is running and writing, and the copy is one consistent
snapshot (the last committed transaction before the copy started). The copy is a
single self-contained file (rollback journal, no ``-wal`` beside it), checked with
``PRAGMA quick_check`` before it is put in place.

``restore`` copies a backup into a store, also with the backup API, so the store's
own ``-wal`` and ``-shm`` files stay consistent. It refuses a store that another
process has open (a running server, an import) unless forced: a forced restore
replaces the data under the running server, which reloads it within a second.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from engactivity.methods import tables_of
from engactivity.store import StoreURLError, parse_store_url
from engactivity.store.schema import SCHEMA_VERSION


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why."""


@dataclass(frozen=True)
class StoreSummary:
    path: Path
    size_bytes: int
    schema_version: int
    accounts: int
    rollup_rows: int
    event_ids: int

    def as_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "schema_version": self.schema_version,
            "accounts": self.accounts,
            "rollup_rows": self.rollup_rows,
            "event_ids": self.event_ids,
        }


def sqlite_path(store_url: str) -> Path:
    try:
        where = parse_store_url(store_url)
    except StoreURLError as exc:
        raise BackupError(str(exc)) from exc
    if where.engine != "sqlite":
        raise BackupError("PostgreSQL stores are backed up with pg_dump (see docs/operations.md)")
    return where.path


def _open_existing(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to an existing database file (never creates one)."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    mode = "ro" if readonly else "rw"
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None, timeout=30
        )
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from exc


def summarize(conn: sqlite3.Connection, path: Path) -> StoreSummary:
    """Check that ``conn`` holds an engactivity store and count what it holds."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise BackupError(f"{path} is not an engactivity store (no schema version)")
        rows = sum(
            conn.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
            for table in tables_of()
        )
        union = " UNION ".join(f"SELECT account_id FROM {table.name}" for table in tables_of())
        (accounts,) = conn.execute(f"SELECT count(*) FROM ({union})").fetchone()
        (ids,) = conn.execute("SELECT count(*) FROM seen_event").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not an engactivity store: {exc}") from exc
    return StoreSummary(path, path.stat().st_size, int(row[0]), accounts, rows, ids)


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")


def backup(store_url: str, dest: Path, force: bool = False) -> StoreSummary:
    """Copy the store at ``store_url`` into the file ``dest`` (or into a new file in it
    when ``dest`` is a folder). Safe while a server writes to the store."""
    source_path = sqlite_path(store_url)
    if dest.is_dir():
        dest = dest / (source_path.stem + "-backup.db")
    if dest.exists() and not force:
        raise BackupError(f"{dest} already exists (use --force to overwrite it)")
    if dest.resolve() == source_path.resolve():
        raise BackupError("the backup cannot be written over the store itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    source = _open_existing(source_path)
    try:
        summarize(source, source_path)
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            # One step: the copy is the snapshot of one read transaction. In WAL mode
            # that holds no lock against the server's writer.
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")
            _check_integrity(target, partial)
            summary = summarize(target, partial)
        finally:
            target.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    _fsync(partial)
    os.replace(partial, dest)
    _fsync_dir(dest.parent)
    return StoreSummary(
        dest,
        summary.size_bytes,
        summary.schema_version,
        summary.accounts,
        summary.rollup_rows,
        summary.event_ids,
    )


def restore(backup_file: Path, store_url: str, force: bool = False) -> StoreSummary:
    """Replace the data of the store at ``store_url`` by the backup ``backup_file``.

    Refuses when another process has the store open, unless ``force``.
    """
    target_path = sqlite_path(store_url)
    source = _open_existing(backup_file, readonly=True)
    try:
        _check_integrity(source, backup_file)
        summary = summarize(source, backup_file)
        if summary.schema_version > SCHEMA_VERSION:
            raise BackupError(
                f"{backup_file} has schema version {summary.schema_version}; this "
                f"engactivity reads up to {SCHEMA_VERSION}: upgrade engactivity first"
            )
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path, isolation_level=None, timeout=0 if not force else 30)
        try:
            if not force:
                # An exclusive lock fails while any other connection (a running
                # server, an import) has the file open in WAL mode; held until the
                # copy is done, so no server can start in between.
                try:
                    target.execute("PRAGMA locking_mode=EXCLUSIVE")
                    target.execute("BEGIN EXCLUSIVE")
                    target.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    target.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    raise BackupError(
                        f"{target_path} is in use by another process (a running server?): "
                        "stop it first, or use --force to restore under it"
                    ) from exc
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
            _check_integrity(target, target_path)
        finally:
            target.close()
    finally:
        source.close()
    return StoreSummary(
        target_path,
        target_path.stat().st_size,
        summary.schema_version,
        summary.accounts,
        summary.rollup_rows,
        summary.event_ids,
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        _fsync(path)
