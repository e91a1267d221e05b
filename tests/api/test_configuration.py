"""The account configuration over real HTTP, on SQLite and on PostgreSQL (two workers):
written by the platform with a write key, read in the reference's format with a read key
(OAuth 1.0a as the published samples sign, or a bearer), ``select``, ``include_deleted``
and ``ac-revision``; bad documents, unknown ids and other accounts' keys refused in JSON."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from tests.auth.keyhelp import bearer, create_key, oauth1
from tests.conftest import ENGINES, MIN, NOW_MS, Server

CONFIG = "/api/account/{account}/configuration/le-users"
WRITE = "/api/v1/accounts/{account}/configuration"
NOW_TEXT = "2026-11-24 13:29:00"
"""NOW_MS as dateUpdated shows it."""
JSON = {"content-type": "application/json"}
"""What the published samples send, even on GET."""

DOCUMENT: dict[str, Any] = {
    "skills": [
        {"id": 2, "name": "Billing", "description": "invoices and refunds"},
        {"id": 1, "name": "Sales", "skillOrder": 1, "maxWaitTime": 120},
    ],
    "agentGroups": [{"id": 7, "name": "Lisbon"}, {"id": 8, "name": "Kraków", "parentGroupId": 7}],
    "users": [
        {
            "id": 1001,
            "pid": "9f3c2a",
            "loginName": "ana.silva",
            "fullName": "Ana Silva",
            "nickname": "Ana",
            "email": "ana.silva@example.com",
            "isEnabled": True,
            "userTypeId": 1,
            "maxChats": 3,
            "skillIds": [2, 1],
            "memberOf": {"agentGroupId": 7},
        },
        {"id": 1002, "loginName": "ben.okafor", "fullName": "Ben Okafor", "skillIds": [1]},
    ],
}


@dataclass
class Keys:
    write: dict[str, str]
    read: dict[str, Any]
    """OAuth 1.0a, account A."""
    read_bearer: dict[str, str]
    other_read: dict[str, str]
    """A read bearer of account B."""
    other_write: dict[str, str]


@dataclass
class Setup:
    server: Server
    keys: Keys

    def url(self, account: str, path: str = "") -> str:
        return self.server.base_url + CONFIG.format(account=account) + path

    def write(
        self, account: str, body: object, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
        return httpx.post(
            self.server.base_url + WRITE.format(account=account),
            content=content,
            headers=self.keys.write if headers is None else headers,
            timeout=30,
        )

    def get(self, account: str, path: str, **params: str) -> requests.Response:
        """A read as the published samples make it: requests, OAuth 1.0a, a JSON type."""
        return requests.get(
            self.url(account, path),
            params=params,
            headers=JSON,
            auth=oauth1(self.keys.read),
            timeout=30,
        )


A = "acme"
B = "other"


@pytest.fixture(scope="module", params=ENGINES)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    with pytest.MonkeyPatch.context() as env:
        if request.param == "postgresql":  # no default key file: the server and CLI share one
            env.setenv("ENGACTIVITY_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
        server = Server(tmp_path_factory.mktemp("config"), engine=request.param).start()
        try:
            url = server.store_url
            keys = Keys(
                write=bearer(create_key(url, A, "write", kind="bearer")),
                read=create_key(url, A, "read"),
                read_bearer=bearer(create_key(url, A, "read", kind="bearer")),
                other_read=bearer(create_key(url, B, "read", kind="bearer")),
                other_write=bearer(create_key(url, B, "write", kind="bearer")),
            )
            yield Setup(server, keys)
        finally:
            server.stop()


def test_round_trip_in_the_reference_format(setup: Setup) -> None:
    written = setup.write(A, DOCUMENT)
    assert written.status_code == 200, written.text
    assert written.json() == {"revision": 1, "changed": 6, "unchanged": 0}
    assert written.headers["ac-revision"] == "1"

    skills = setup.get(A, "/skills")
    assert skills.status_code == 200
    assert skills.headers["content-type"] == "application/json"
    assert skills.headers["ac-revision"] == "1"
    assert skills.json() == [
        {"id": 1, "deleted": False, "name": "Sales"},
        {"id": 2, "deleted": False, "name": "Billing"},
    ]
    assert setup.get(A, "/skills", select="id,description", v="1.0").json() == [
        {"id": 1},
        {"id": 2, "description": "invoices and refunds"},
    ]
    assert setup.get(A, "/skills", select="$all").json()[0] == {
        "id": 1,
        "deleted": False,
        "name": "Sales",
        "skillOrder": 1,
        "maxWaitTime": 120,
        "dateUpdated": NOW_TEXT,
    }
    assert setup.get(A, "/users", v="4.0").json() == [
        {"id": 1001, "pid": "9f3c2a", "deleted": False, "loginName": "ana.silva"},
        {"id": 1002, "deleted": False, "loginName": "ben.okafor"},
    ]
    assert setup.get(A, "/users/1001").json() == {
        "id": 1001,
        "deleted": False,
        "pid": "9f3c2a",
        "loginName": "ana.silva",
        "fullName": "Ana Silva",
        "nickname": "Ana",
        "email": "ana.silva@example.com",
        "isEnabled": True,
        "userTypeId": 1,
        "maxChats": 3,
        "skillIds": [1, 2],
        "memberOf": {"agentGroupId": 7},
        "dateUpdated": NOW_TEXT,
    }
    picked = setup.get(A, "/users", select="id,fullName,memberOf(agentGroupId),skillIds")
    assert picked.json() == [
        {"id": 1001, "fullName": "Ana Silva", "skillIds": [1, 2], "memberOf": {"agentGroupId": 7}},
        {"id": 1002, "fullName": "Ben Okafor", "skillIds": [1]},
    ]
    assert setup.get(A, "/agentGroups").json() == [
        {"id": 7, "deleted": False, "name": "Lisbon"},
        {"id": 8, "deleted": False, "name": "Kraków"},
    ]
    one = setup.get(A, "/agentGroups/8", select="name,parentGroupId")
    assert (one.json(), one.headers["ac-revision"]) == ({"name": "Kraków", "parentGroupId": 7}, "1")


def test_resending_changes_nothing_and_deletes_are_marked(setup: Setup) -> None:
    account = "deletes"
    headers = bearer(create_key(setup.server.store_url, account, "read,write", kind="bearer"))
    assert setup.write(account, DOCUMENT, headers).json()["revision"] == 1

    def read(path: str, **params: str) -> httpx.Response:
        return httpx.get(setup.url(account, path), params=params, headers=headers, timeout=30)

    again = setup.write(account, DOCUMENT, headers)
    assert again.json() == {"revision": 1, "changed": 0, "unchanged": 6}
    assert read("/skills").headers["ac-revision"] == "1"

    gone = {"skills": [{"id": 2, "deleted": True}], "users": [{"id": 1002, "deleted": True}]}
    assert setup.write(account, gone, headers).json() == {
        "revision": 2,
        "changed": 2,
        "unchanged": 0,
    }
    assert [s["id"] for s in read("/skills").json()] == [1]
    assert read("/skills", include_deleted="true").json() == [
        {"id": 1, "deleted": False, "name": "Sales"},
        {"id": 2, "deleted": True, "name": "Billing"},
    ]
    assert [u["id"] for u in read("/users", include_deleted="TRUE").json()] == [1001, 1002]
    assert [u["id"] for u in read("/users", include_deleted="false").json()] == [1001]
    deleted = read("/skills/2")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert deleted.headers["ac-revision"] == "2"
    assert setup.write(account, gone, headers).json()["changed"] == 0

    # replace: what the document leaves out of its arrays is deleted.
    only_sales = {"skills": [DOCUMENT["skills"][1]], "replace": True}
    assert setup.write(account, only_sales, headers).json() == {
        "revision": 2,
        "changed": 0,
        "unchanged": 1,
    }
    back = {"skills": DOCUMENT["skills"]}
    assert setup.write(account, back, headers).json()["revision"] == 3
    assert setup.write(account, only_sales, headers).json() == {
        "revision": 4,
        "changed": 1,
        "unchanged": 1,
    }
    assert [s["id"] for s in read("/skills").json()] == [1]
    assert [g["id"] for g in read("/agentGroups").json()] == [7, 8]  # not in the document


def test_writes_through_the_server_do_not_make_it_reload(setup: Setup) -> None:
    """The server writes the configuration on its store's own connection: a SQLite
    store does not take it for another process's commit (which reloads every account)."""
    account = "no-reload"
    headers = bearer(create_key(setup.server.store_url, account, "read,write", kind="bearer"))
    time.sleep(2.5)  # the key was made by another connection: that reload is over by now

    def reloads() -> int:
        return setup.server.log_path.read_text().count("changed by another process")

    before = reloads()
    for n in range(3):
        document = {"skills": [{"id": 1, "name": f"Sales {n}"}]}
        assert setup.write(account, document, headers).json()["changed"] == 1
    time.sleep(2.5)  # the store looks for other writers every second
    assert reloads() == before
    if setup.server.engine == "sqlite":  # a commit by another connection is noticed
        create_key(setup.server.store_url, account, "read")
        deadline = time.monotonic() + 10
        while reloads() == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reloads() == before + 1


def test_an_account_without_configuration_answers_empty_lists(setup: Setup) -> None:
    headers = bearer(create_key(setup.server.store_url, "empty", "read", kind="bearer"))
    for kind in ("skills", "users", "agentGroups"):
        answer = httpx.get(setup.url("empty", f"/{kind}"), headers=headers, timeout=30)
        assert (answer.status_code, answer.json(), answer.headers["ac-revision"]) == (200, [], "0")


@pytest.mark.parametrize(
    ("path", "noun"),
    [("/skills/99", "skill"), ("/users/5", "user"), ("/agentGroups/-3", "agent group")],
)
def test_unknown_ids_answer_json_404(setup: Setup, path: str, noun: str) -> None:
    setup.write(A, DOCUMENT)
    answer = setup.get(A, path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["ac-revision"] == "1"
    body = answer.json()
    assert body["error"] == "not_found"
    assert body["message"].startswith(f"{noun} {path.rsplit('/', 1)[1]} is not")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/skills/abc", {}, "skillId"),
        ("/users/1.5", {}, "userId"),
        ("/agentGroups/99999999999999999999", {}, "agentGroupId"),
        ("/skills", {"include_deleted": "yes"}, "include_deleted"),
        ("/users", {"select": "memberOf(agentGroupId"}, "select"),
    ],
)
def test_bad_parameters_answer_json_400(
    setup: Setup, path: str, params: dict[str, str], field: str
) -> None:
    answer = setup.get(A, path, **params)
    assert answer.status_code == 400
    body = answer.json()
    assert (body["error"], body["field"]) == ("invalid_request", field)
    assert body["allowed"]


def test_keys_of_other_accounts_and_scopes_are_refused(setup: Setup) -> None:
    keys = setup.keys
    url = setup.url(A, "/skills")
    assert httpx.get(url, headers=keys.read_bearer).status_code == 200
    refused = httpx.get(url)
    assert refused.status_code == 401 and refused.json()["error"]
    assert httpx.get(url, headers={"Authorization": "Bearer ea_nope"}).status_code == 401
    for path in ("/skills", "/skills/1", "/users", "/users/1001", "/agentGroups"):
        answer = httpx.get(setup.url(A, path), headers=keys.other_read)
        assert answer.status_code == 403, path
        assert "Sales" not in answer.text and "ana" not in answer.text
    # Writing needs a write key of the account itself.
    assert setup.write(A, DOCUMENT, keys.read_bearer).status_code == 403
    assert setup.write(A, DOCUMENT, keys.other_write).status_code == 403
    assert setup.write(A, DOCUMENT, {}).status_code == 401
    # A write key does not read.
    assert httpx.get(url, headers=keys.write).status_code == 403


def test_bad_documents_are_refused_and_nothing_is_stored(setup: Setup) -> None:
    account = "bad"
    headers = bearer(create_key(setup.server.store_url, account, "read,write", kind="bearer"))
    assert (
        setup.write(account, {"skills": [{"id": 1, "name": "Sales"}]}, headers).status_code == 200
    )
    cases: list[tuple[object, str, str]] = [
        (b"not json", "body", "JSON object"),
        (b"skills=1", "body", "JSON object"),
        ([{"id": 1}], "body", "JSON object"),
        ({"skills": {"id": 1}}, "skills", "an array of skill objects"),
        ({"skills": [{"id": "one", "name": "x"}]}, "skills[0].id", "a 64-bit integer"),
        ({"skills": [{"id": 2}]}, "skills[0].name", "a string of 1 to 255 characters"),
        ({"users": [{"id": 3, "loginName": "c", "maxChats": -1}]}, "users[0].maxChats", "0 to"),
        ({"users": [{"id": 3, "loginName": "c", "colour": 1}]}, "users[0].colour", "loginName"),
        (
            {"agentGroups": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]},
            "agentGroups[1].id",
            "once",
        ),
        ({"skills": [{"id": 2, "name": "sales"}]}, "skills[0].name", "no other skill"),
        ({"skills": [{"id": 2, "name": "New"}], "mode": "x"}, "mode", "replace"),
    ]
    for body, field, allowed in cases:
        answer = setup.write(account, body, headers)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.headers["content-type"] == "application/json"
        problem = answer.json()
        assert (problem["error"], problem["field"]) == ("invalid_request", field), body
        assert allowed in problem["allowed"], (body, problem)
    listing = httpx.get(
        setup.url(account, "/skills"), headers=headers, params={"include_deleted": "true"}
    )
    assert listing.headers["ac-revision"] == "1"
    assert listing.json() == [{"id": 1, "deleted": False, "name": "Sales"}]


def test_a_sample_client_names_the_skills_of_the_metrics(setup: Setup) -> None:
    """The published CSV sample: queue health's skills, named from the skills list."""
    events = [
        {"eventId": f"q{n}", "type": "queued", "time": NOW_MS - n * MIN, "skillId": 1 + n % 3}
        for n in range(6)
    ]
    sent = httpx.post(
        f"{setup.server.base_url}/api/v1/accounts/{A}/events", json=events, headers=setup.keys.write
    )
    assert sent.status_code == 200, sent.text
    setup.write(A, DOCUMENT)
    oauth = oauth1(setup.keys.read)
    base = setup.server.base_url
    health = requests.get(
        f"{base}/operations/api/account/{A}/queuehealth?timeframe=15&v=1&skillIds=all",
        headers=JSON,
        auth=oauth,
        timeout=30,
    ).json()
    skill_ids = list(health["skillsMetrics"])
    skills = requests.get(
        f"{base}/api/account/{A}/configuration/le-users/skills",
        headers=JSON,
        auth=oauth,
        timeout=30,
    ).json()
    named = {str(s["id"]): s["name"] for s in skills if str(s["id"]) in skill_ids}
    assert named == {"1": "Sales", "2": "Billing"}  # skill 3 has no name: the client keeps its id
    assert sorted(skill_ids) == ["1", "2", "3"]


def test_a_document_over_the_byte_limit_gets_413(tmp_path: Path) -> None:
    server = Server(tmp_path, extra_args=["--max-batch-bytes", "1000"]).start()
    try:
        big = {"skills": [{"id": n, "name": f"skill number {n}"} for n in range(100)]}
        url = server.base_url + WRITE.format(account=A)
        answer = httpx.post(url, json=big, timeout=30)
        assert answer.status_code == 413
        assert answer.json()["max_bytes"] == 1000
        small = httpx.post(url, json={"skills": [{"id": 1, "name": "Sales"}]}, timeout=30)
        assert small.status_code == 200
    finally:
        server.stop()
