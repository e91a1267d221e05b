"""The configuration store on real SQLite files and a real PostgreSQL: writes, revisions,
deletes, unique names, and reads of one moment."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from engactivity.accountconfig.document import parse_document
from engactivity.accountconfig.kinds import AGENT_GROUPS, SKILLS, USERS
from engactivity.accountconfig.store import Applied, ConfigStore, open_config_store
from engactivity.core.problems import InvalidRequest
from tests.conftest import ENGINES, NOW_MS, new_pg_database


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ConfigStore, str]]:
    url = f"sqlite:///{tmp_path}/store.db" if request.param == "sqlite" else new_pg_database()
    configs = open_config_store(url)
    yield configs, url
    configs.close()


def write(
    configs: ConfigStore, doc: dict[str, Any], account: str = "a", at: int = NOW_MS
) -> Applied:
    return configs.apply(account, parse_document(orjson.dumps(doc)), at)


def names(
    configs: ConfigStore, include_deleted: bool = False, account: str = "a"
) -> dict[int, Any]:
    found = configs.list(account, SKILLS, include_deleted)
    return {row.id: (row.deleted, orjson.loads(row.body)["name"]) for row in found.rows}


def test_writes_raise_the_revision_only_when_something_changes(
    store: tuple[ConfigStore, str],
) -> None:
    configs, _ = store
    assert configs.list("a", SKILLS, False).revision == 0
    doc = {"skills": [{"id": 2, "name": "Billing"}, {"id": 1, "name": "Sales"}]}
    assert write(configs, doc) == Applied(1, 2, 0)
    assert write(configs, doc, at=NOW_MS + 1000) == Applied(1, 0, 2)
    assert write(configs, {"skills": [{"id": 1, "name": "Sales & Renewals"}]}) == Applied(2, 1, 0)
    listing = configs.list("a", SKILLS, False)
    assert listing.revision == 2
    assert [row.id for row in listing.rows] == [1, 2]  # by id
    assert names(configs) == {1: (False, "Sales & Renewals"), 2: (False, "Billing")}
    assert [row.updated_ms for row in listing.rows] == [NOW_MS, NOW_MS]
    # Each account has its own entities and revision.
    assert configs.list("b", SKILLS, True).rows == []
    assert write(configs, doc, account="b").revision == 1
    assert configs.list("a", SKILLS, False).revision == 2


def test_deletes_mark_entities_deleted(store: tuple[ConfigStore, str]) -> None:
    configs, _ = store
    write(configs, {"skills": [{"id": 1, "name": "Sales"}, {"id": 2, "name": "Billing"}]})
    assert write(configs, {"skills": [{"id": 2, "deleted": True}]}) == Applied(2, 1, 0)
    assert names(configs) == {1: (False, "Sales")}
    assert names(configs, include_deleted=True) == {1: (False, "Sales"), 2: (True, "Billing")}
    (row,) = configs.get("a", SKILLS, 2).rows
    assert row.deleted
    # Deleting again, or an id never stored, changes nothing.
    assert write(configs, {"skills": [{"id": 2, "deleted": True}, {"id": 9, "deleted": True}]}) == (
        Applied(2, 0, 2)
    )
    assert configs.get("a", SKILLS, 9).rows == []
    # Sent whole again, it is back.
    assert write(configs, {"skills": [{"id": 2, "name": "Billing"}]}) == Applied(3, 1, 0)
    assert names(configs) == {1: (False, "Sales"), 2: (False, "Billing")}


def test_replace_deletes_what_the_document_leaves_out(store: tuple[ConfigStore, str]) -> None:
    configs, _ = store
    write(
        configs,
        {
            "skills": [{"id": 1, "name": "Sales"}, {"id": 2, "name": "Billing"}],
            "agentGroups": [{"id": 1, "name": "Lisbon"}],
        },
    )
    applied = write(configs, {"skills": [{"id": 1, "name": "Sales"}], "replace": True})
    assert applied == Applied(2, 1, 1)
    assert names(configs, include_deleted=True) == {1: (False, "Sales"), 2: (True, "Billing")}
    # Kinds the document does not have are left as they are.
    assert [row.id for row in configs.list("a", AGENT_GROUPS, False).rows] == [1]


def test_names_are_unique_among_entities_not_deleted(store: tuple[ConfigStore, str]) -> None:
    configs, _ = store
    write(configs, {"skills": [{"id": 1, "name": "Sales"}, {"id": 2, "name": "Billing"}]})
    with pytest.raises(InvalidRequest) as refused:
        write(configs, {"skills": [{"id": 3, "name": "Chat"}, {"id": 4, "name": "SALES"}]})
    (problem,) = refused.value.problems
    assert problem.field == "skills[1].name"
    assert problem.message == "name 'SALES' is already that of skill 1"
    assert configs.list("a", SKILLS, True).revision == 1  # nothing of it was written
    assert configs.get("a", SKILLS, 3).rows == []
    # Two of the document's own: the later one is named.
    with pytest.raises(InvalidRequest) as refused:
        write(configs, {"skills": [{"id": 5, "name": "Chat"}, {"id": 6, "name": "chat"}]})
    assert [p.field for p in refused.value.problems] == ["skills[1].name"]
    # Swapping two names in one document is fine: the result is what counts.
    swap = {"skills": [{"id": 1, "name": "Billing"}, {"id": 2, "name": "Sales"}]}
    assert write(configs, swap) == Applied(2, 2, 0)
    # A deleted entity's name is free again.
    write(configs, {"skills": [{"id": 2, "deleted": True}]})
    assert write(configs, {"skills": [{"id": 7, "name": "sales"}]}).changed == 1
    # Login names of users too.
    write(configs, {"users": [{"id": 1, "loginName": "ana"}]})
    with pytest.raises(InvalidRequest):
        write(configs, {"users": [{"id": 2, "loginName": "Ana"}]})


def test_a_user_is_stored_whole(store: tuple[ConfigStore, str]) -> None:
    configs, _ = store
    user = {"id": 7, "loginName": "ana", "fullName": "Ana Silva", "skillIds": [3, 1], "maxChats": 3}
    write(configs, {"users": [user]})
    (row,) = configs.get("a", USERS, 7).rows
    assert orjson.loads(row.body) == {
        "loginName": "ana",
        "fullName": "Ana Silva",
        "maxChats": 3,
        "skillIds": [1, 3],
    }
    # The same skills in another order change nothing; a field left out is no longer set.
    assert write(configs, {"users": [{**user, "skillIds": [1, 3, 1]}]}).changed == 0
    write(configs, {"users": [{"id": 7, "loginName": "ana"}]})
    (row,) = configs.get("a", USERS, 7).rows
    assert orjson.loads(row.body) == {"loginName": "ana"}


def test_concurrent_writers_each_get_their_own_revision(store: tuple[ConfigStore, str]) -> None:
    configs, url = store
    others = [open_config_store(url) for _ in range(3)]  # more connections, as other processes
    results: list[Applied] = []
    lock = threading.Lock()

    def writer(n: int, into: ConfigStore) -> None:
        for k in range(5):
            applied = write(into, {"skills": [{"id": 10 * n + k, "name": f"skill {n}.{k}"}]})
            with lock:
                results.append(applied)

    threads = [threading.Thread(target=writer, args=(n, s)) for n, s in enumerate(others)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.close()
    assert sorted(r.revision for r in results) == list(range(1, 16))
    assert len(configs.list("a", SKILLS, False).rows) == 15


def test_a_write_that_changes_nothing_commits_nothing(tmp_path: Path) -> None:
    """On SQLite, the serving process reloads its copy after another connection's commit
    (PRAGMA data_version): an unchanged document must not look like a change."""
    configs = open_config_store(f"sqlite:///{tmp_path}/store.db")
    watcher = sqlite3.connect(tmp_path / "store.db")
    try:
        doc = {"skills": [{"id": 1, "name": "Sales"}]}
        write(configs, doc)
        (before,) = watcher.execute("PRAGMA data_version").fetchone()
        write(configs, doc)
        assert watcher.execute("PRAGMA data_version").fetchone() == (before,)
        write(configs, {"skills": [{"id": 1, "name": "Sales 2"}]})
        assert watcher.execute("PRAGMA data_version").fetchone() != (before,)
    finally:
        watcher.close()
        configs.close()
