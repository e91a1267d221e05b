"""``engactivity config import FILE`` as a real process, into a store (SQLite beside a running
server, and PostgreSQL) and over HTTP with a write key, checked through the read API; and
``engactivity simulate`` writing its account's configuration first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from engactivity.simulate import SimConfig
from engactivity.simulate.names import account_configuration
from tests.auth.keyhelp import create_key
from tests.conftest import ENGINES, Server
from tests.test_cli import run_cli

DOCUMENT: dict[str, Any] = {
    "skills": [{"id": 1, "name": "Sales"}, {"id": 2, "name": "Billing"}],
    "agentGroups": [{"id": 1, "name": "Lisbon"}],
    "users": [{"id": 1001, "loginName": "ana", "fullName": "Ana Silva", "skillIds": [1]}],
}


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


@pytest.fixture(scope="module")
def pg_workers() -> int:
    return 1


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(DOCUMENT))
    return path


def skills(server: Server, account: str, **headers: str) -> httpx.Response:
    url = f"{server.base_url}/api/account/{account}/configuration/le-users/skills"
    return httpx.get(url, headers=headers, timeout=30)


def test_import_into_the_store_of_a_running_server(
    server: Server, document: Path, tmp_path: Path
) -> None:
    args = ["config", "import", str(document), "--account", "acme", "--store", server.store_url]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "revision 1, 4 changed, 0 unchanged" in done.stderr
    answer = skills(server, "acme")
    assert answer.json() == [
        {"id": 1, "deleted": False, "name": "Sales"},
        {"id": 2, "deleted": False, "name": "Billing"},
    ]
    assert answer.headers["ac-revision"] == "1"
    # Again: nothing changes.
    again = run_cli([*args, "--json"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {
        "account": "acme",
        "revision": 1,
        "changed": 0,
        "unchanged": 4,
    }


def test_an_invalid_document_is_refused_and_nothing_is_stored(
    server: Server, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"skills": [{"id": 1}, {"id": "two", "name": "x"}]}))
    args = ["config", "import", str(bad), "--account", "acme", "--store", server.store_url]
    done = run_cli(args, tmp_path)
    assert done.returncode == 1
    assert "nothing was stored" in done.stderr
    assert "skills[0].name: name is missing" in done.stderr
    assert "skills[1].id: id is missing or invalid (allowed: a 64-bit integer)" in done.stderr
    as_json = run_cli([*args, "--json"], tmp_path)
    assert as_json.returncode == 1
    fields = [p["field"] for p in json.loads(as_json.stdout)["problems"]]
    assert fields == ["skills[0].name", "skills[1].id"]
    assert skills(server, "acme").headers["ac-revision"] == "0"
    # Not JSON at all; an invalid account; a store that cannot be opened.
    bad.write_text("{")
    assert run_cli(args, tmp_path).returncode == 1
    wrong = ["config", "import", str(bad), "--account", "no/slash", "--store", server.store_url]
    refused = run_cli(wrong, tmp_path)
    assert refused.returncode == 1 and "accountId" in refused.stderr


def test_import_over_http_needs_a_write_key(server: Server, document: Path, tmp_path: Path) -> None:
    key = create_key(server.store_url, "acme", "read,write", kind="bearer")
    args = ["config", "import", str(document), "--account", "acme", "--url", server.base_url]
    refused = run_cli(args, tmp_path)
    assert refused.returncode == 2
    assert "401" in refused.stderr and "ENGACTIVITY_TOKEN" in refused.stderr
    done = run_cli(args, tmp_path, env={"ENGACTIVITY_TOKEN": key["token"]})
    assert done.returncode == 0, done.stderr
    answer = skills(server, "acme", Authorization=f"Bearer {key['token']}")
    assert [s["name"] for s in answer.json()] == ["Sales", "Billing"]
    # The server's own validation, reported the same way.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"users": [{"id": 1, "loginName": "ana", "maxChats": -2}]}))
    args[2] = str(bad)
    invalid = run_cli(args, tmp_path, env={"ENGACTIVITY_TOKEN": key["token"]})
    assert invalid.returncode == 1
    assert "users[0].maxChats: maxChats is invalid" in invalid.stderr


def test_config_still_prints_the_settings(tmp_path: Path) -> None:
    done = run_cli(["config", "--port", "9123"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "9123" in done.stdout
    helped = run_cli(["config", "import", "--help"], tmp_path)
    assert helped.returncode == 0 and "--account" in helped.stdout


def test_simulate_names_its_account_first(server: Server, tmp_path: Path) -> None:
    args = ["simulate", "--account", "sim", "--agents", "12", "--skills", "3"]
    args += ["--backfill", "0.2", "--duration", "0", "--url", server.base_url]
    env = {"ENGACTIVITY_FAKE_NOW_FILE": str(server.clock_file)}
    done = run_cli(args, tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "account configuration: revision 1" in done.stderr
    expected = account_configuration(SimConfig(account="sim", agents=12, skills=3))["skills"]
    assert isinstance(expected, list)
    assert [s["name"] for s in skills(server, "sim").json()] == [s["name"] for s in expected]
    # --no-account-config leaves the configuration alone.
    args[2] = "other"
    done = run_cli([*args, "--no-account-config"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert skills(server, "other").json() == []
