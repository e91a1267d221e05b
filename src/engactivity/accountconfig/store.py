"""Where the configuration lives: tables ``config_item`` and ``config_revision`` in the
store's own database, beside the events and the keys, reached through its ``Database``.

Each entity is one row: its account, kind, id, whether it is deleted, its fields as
JSON text (canonical: the same entity is always the same text) and when it last
changed. Each account has a revision, raised by one at every write that changes
something; a write that changes nothing writes nothing. A server writes through its
store's own writing connection: a SQLite store reloads its copy of the data after any
other connection's commit, and would take the write for another process's. A write is
one transaction: all of a document, or nothing of it.

Nothing is cached: every read is a query, so every process serving the store answers
the latest revision. A list is one statement (the revision comes with the rows), so it
is always of one revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from engactivity.accountconfig.document import Document, Item
from engactivity.accountconfig.kinds import KIND_BY_KEY, Kind
from engactivity.core.problems import InvalidRequest, Problem
from engactivity.store import Database, open_database

CONFIG_TABLES = """
CREATE TABLE IF NOT EXISTS config_item (
    account    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    id         BIGINT NOT NULL,
    deleted    SMALLINT NOT NULL,
    body       TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (account, kind, id)
);
CREATE TABLE IF NOT EXISTS config_revision (
    account  TEXT PRIMARY KEY,
    revision BIGINT NOT NULL
);
"""
_UPSERT_ITEM = (
    "INSERT INTO config_item (account, kind, id, deleted, body, updated_ms) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, kind, id) DO UPDATE SET "
    "deleted = excluded.deleted, body = excluded.body, updated_ms = excluded.updated_ms"
)
_UPSERT_REVISION = (
    "INSERT INTO config_revision (account, revision) VALUES (?, ?) "
    "ON CONFLICT (account) DO UPDATE SET revision = excluded.revision"
)
# One statement, so the revision and the rows are of the same moment on both databases.
_SELECT = (
    "SELECT r.revision, i.id, i.deleted, i.body, i.updated_ms "
    "FROM (SELECT CAST(? AS TEXT) AS account) AS a "
    "LEFT JOIN config_revision AS r ON r.account = a.account "
    "LEFT JOIN config_item AS i ON i.account = a.account AND i.kind = ? {where} "
    "ORDER BY i.id"
)


class Row(NamedTuple):
    id: int
    deleted: bool
    body: str
    """The entity's fields as JSON text."""
    updated_ms: int


@dataclass(frozen=True)
class Listing:
    revision: int
    rows: list[Row]


@dataclass(frozen=True)
class Applied:
    """What a write did."""

    revision: int
    changed: int
    unchanged: int

    def as_json(self) -> dict[str, int]:
        return {"revision": self.revision, "changed": self.changed, "unchanged": self.unchanged}


State = tuple[bool, str]
"""An entity as stored: (deleted, fields as JSON text)."""


Transaction = Callable[[Callable[[Any], Applied]], Applied]
"""Runs a function in one write transaction and returns what it returned."""


class ConfigStore:
    def __init__(
        self, db: Database, *, owns_database: bool = False, write: Transaction | None = None
    ) -> None:
        """``write``: how writes are made (default: ``db.write``). A server passes its
        store's own ``transaction``, so that a SQLite store does not take a configuration
        write for another process's and reload every account."""
        self._db = db
        self._owned = owns_database
        self._write: Transaction = write or db.write
        db.ensure(CONFIG_TABLES)

    def apply(self, account: str, document: Document, now_ms: int) -> Applied:
        """Write ``document`` to ``account`` in one transaction; InvalidRequest (nothing
        written) when it would give two entities of a kind the same name."""
        return self._write(lambda conn: self._apply(conn, account, document, now_ms))

    def _apply(self, conn: Any, account: str, document: Document, now_ms: int) -> Applied:
        revision = self._revision_for_update(conn, account)
        stored = self._stored(conn, account, document.items)
        changes: dict[tuple[str, int], State] = {}
        unchanged = 0
        for key, items in document.items.items():
            for item in items:
                new = _new_state(item, stored.get((key, item.id)))
                if new is None or new == stored.get((key, item.id)):
                    unchanged += 1
                else:
                    changes[(key, item.id)] = new
        if document.replace:
            changes.update(_left_out(document, stored))
        _check_unique(document, stored, changes)
        if not changes:
            return Applied(revision, 0, unchanged)
        sql = self._db.sql
        rows = [(account, k, i, int(d), body, now_ms) for (k, i), (d, body) in changes.items()]
        conn.cursor().executemany(sql(_UPSERT_ITEM), rows)  # psycopg: on a cursor
        conn.execute(sql(_UPSERT_REVISION), (account, revision + 1))
        return Applied(revision + 1, len(changes), unchanged)

    def _revision_for_update(self, conn: Any, account: str) -> int:
        """The account's revision, locked until COMMIT where other processes write too
        (SQLite's write transaction already excludes every other writer)."""
        sql = self._db.sql
        if not self._db.dialect.shared:
            row = conn.execute(
                sql("SELECT revision FROM config_revision WHERE account = ?"), (account,)
            ).fetchone()
            return 0 if row is None else int(row[0])
        conn.execute(
            sql(
                "INSERT INTO config_revision (account, revision) VALUES (?, 0) "
                "ON CONFLICT (account) DO NOTHING"
            ),
            (account,),
        )
        row = conn.execute(
            sql("SELECT revision FROM config_revision WHERE account = ? FOR UPDATE"), (account,)
        ).fetchone()
        return int(row[0])

    def _stored(
        self, conn: Any, account: str, kinds: Iterable[str]
    ) -> dict[tuple[str, int], State]:
        """Every stored entity of the kinds the document writes."""
        sql = self._db.sql(
            "SELECT id, deleted, body FROM config_item WHERE account = ? AND kind = ?"
        )
        stored: dict[tuple[str, int], State] = {}
        for key in kinds:
            for entity_id, deleted, body in conn.execute(sql, (account, key)).fetchall():
                stored[(key, int(entity_id))] = (bool(deleted), str(body))
        return stored

    def list(self, account: str, kind: Kind, include_deleted: bool) -> Listing:
        where = "" if include_deleted else "AND i.deleted = 0"
        return self._select(_SELECT.format(where=where), (account, kind.key))

    def get(self, account: str, kind: Kind, entity_id: int) -> Listing:
        """The entity (deleted or not) in a listing of at most one row."""
        return self._select(_SELECT.format(where="AND i.id = ?"), (account, kind.key, entity_id))

    def _select(self, statement: str, params: tuple[object, ...]) -> Listing:
        sql = self._db.sql(statement)
        found = self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        revision = 0 if found[0][0] is None else int(found[0][0])
        rows = [
            Row(int(i), bool(d), str(body), int(at)) for _, i, d, body, at in found if i is not None
        ]
        return Listing(revision, rows)

    def close(self) -> None:
        if self._owned:
            self._db.close()


def open_config_store(url: str) -> ConfigStore:
    """The configuration of the store ``url`` names, on a database of its own."""
    db = open_database(url)
    try:
        return ConfigStore(db, owns_database=True)
    except BaseException:
        db.close()
        raise


def _canonical(body: dict[str, object]) -> str:
    return orjson.dumps(body).decode()


def _new_state(item: Item, old: State | None) -> State | None:
    """What the entity becomes; None: nothing (deleting an id never stored)."""
    if item.body is not None:
        return (item.deleted, _canonical(item.body))
    return None if old is None else (True, old[1])


def _left_out(
    document: Document, stored: dict[tuple[str, int], State]
) -> dict[tuple[str, int], State]:
    """With ``replace``: the stored entities of the document's kinds it does not name,
    marked deleted."""
    named = {(key, item.id) for key, items in document.items.items() for item in items}
    return {
        at: (True, body)
        for at, (deleted, body) in stored.items()
        if not deleted and at not in named
    }


def _check_unique(
    document: Document,
    stored: dict[tuple[str, int], State],
    changes: dict[tuple[str, int], State],
) -> None:
    """InvalidRequest when two entities of a kind that are not deleted would share the
    kind's unique field (names, login names), one of them from the document."""
    problems: list[Problem] = []
    for key, items in document.items.items():
        kind = KIND_BY_KEY[key]
        position = {item.id: item.index for item in items}
        holder: dict[str, int] = {}
        # The others hold their names first; then the document's, in its order, so a
        # clash is reported on the document's entity that comes later.
        ids = [i for (k, i) in stored if k == key and i not in position]
        ids += [item.id for item in items]
        for entity_id in ids:
            state = changes.get((key, entity_id)) or stored.get((key, entity_id))
            if state is None or state[0]:
                continue
            value = orjson.loads(state[1]).get(kind.unique)
            if not isinstance(value, str):
                continue
            other = holder.setdefault(value.casefold(), entity_id)
            if other != entity_id and entity_id in position:
                problems.append(_clash(kind, position[entity_id], value, other))
    if problems:
        raise InvalidRequest(problems)


def _clash(kind: Kind, index: int, value: str, other: int) -> Problem:
    return Problem(
        f"{kind.key}[{index}].{kind.unique}",
        f"{kind.unique} {value!r} is already that of {kind.noun} {other}",
        f"a {kind.unique} no other {kind.noun} of the account has (case is ignored)",
    )
