"""The Login Service against real server processes over real HTTP, on both stores.

Users are made with ``engactivity users`` (another process, as an operator would);
clients are ``requests`` sending what the published clients send (JSON bodies with
``v=1.3``; refresh and logout with the cookie, or only the csrf value as the community
Python wrapper does). Time is the servers' pinned clock, moved by the tests: idle
expiry and the login back-off are checked to the second without waiting.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.auth.keyhelp import bearer, create_key
from tests.auth.loginhelp import create_user, login, login_url, read, users_cli
from tests.conftest import ENGINES, NOW_MS, Server

ACCOUNT = "1234"
PASSWORD = "correct horse battery"
SERVICES = ("leDataReporting", "agentVep", "accountConfigReadOnly")
HEX64 = re.compile(r"[0-9a-f]{64}")

MakeServer = Callable[..., Server]


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


@pytest.fixture(scope="module")
def pg_workers() -> int:
    """One process per server: the tests that cross processes start two servers."""
    return 1


@pytest.fixture
def alice(server: Server) -> dict[str, Any]:
    return create_user(
        server.store_url, ACCOUNT, "alice", PASSWORD, "--full-name", "Alice Example",
        "--user-id", "1033",
    )  # fmt: skip


def assert_refused(r: requests.Response, status: int, error: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    assert body["error"] == error and body["message"], body
    return body


def closed_events(prefix: str, n: int = 3) -> list[dict[str, object]]:
    return [
        {
            "eventId": f"{prefix}-{i}",
            "type": "closed",
            "time": NOW_MS - 60_000,
            "skillId": 2,
            "agentId": 1033,
            "interactive": True,
            "handlingTime": 10,
        }
        for i in range(n)
    ]


# -- login, and what the bearer reads ------------------------------------------------------------


def test_login_answers_as_the_hosted_service(server: Server, alice: dict[str, Any]) -> None:
    r = login(server, ACCOUNT, "alice", PASSWORD)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert HEX64.fullmatch(body["bearer"]) and HEX64.fullmatch(body["csrf"]), body
    assert body["bearer"] != body["csrf"]
    config = body["config"]
    assert (config["loginName"], config["userId"], config["accountId"]) == (
        "alice",
        "1033",
        ACCOUNT,
    )
    assert config["serverCurrentTime"] == NOW_MS
    assert body["sessionTTl"] == str(30 * 60_000)
    host = f"127.0.0.1:{server.port}"
    assert body["csdsCollectionResponse"]["baseURIs"] == [
        {"service": s, "account": ACCOUNT, "baseURI": host} for s in SERVICES
    ]
    cookie = r.headers["set-cookie"]
    assert re.match(r"Session_id=[A-Za-z0-9_-]{43};", cookie), cookie
    assert "HttpOnly" in cookie and f"Path=/api/account/{ACCOUNT};" in cookie
    assert "secure" not in cookie.lower()  # plain HTTP: a Secure cookie would not come back
    value = r.cookies["Session_id"]
    assert value not in (body["bearer"], body["csrf"])


def test_a_client_discovers_logs_in_and_reads_its_account_only(
    server: Server, alice: dict[str, Any]
) -> None:
    writer = create_key(server.store_url, ACCOUNT, "write", kind="bearer")
    events = f"{server.base_url}/api/v1/accounts/{ACCOUNT}/events"
    r = requests.post(events, json=closed_events("a"), headers=bearer(writer), timeout=30)
    assert r.status_code == 200, r.text

    def discover(service: str) -> str:
        url = f"{server.base_url}/api/account/{ACCOUNT}/service/{service}/baseURI.json"
        found = requests.get(url, params={"version": "1.0"}, timeout=30)
        assert found.status_code == 200, found.text
        return str(found.json()["baseURI"])

    login_host = discover("agentVep")
    r = requests.post(
        f"http://{login_host}/api/account/{ACCOUNT}/login?v=1.3",
        json={"username": "alice", "password": PASSWORD},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    token = r.json()["bearer"]
    metrics = f"http://{discover('leDataReporting')}/operations/api/account/{ACCOUNT}/engactivity"
    auth = {"Authorization": f"Bearer {token}"}
    got = requests.get(metrics, params={"timeframe": 60, "v": 1}, headers=auth, timeout=30)
    assert got.status_code == 200, got.text
    assert got.json()["metricsTotals"]["totalInteractiveChats"] == 3
    assert got.json()["metricsTotals"]["totalHandlingTime"] == 30
    query = {"timeframe": 60, "v": 1, "agentIds": [1033]}
    posted = requests.post(metrics, json=query, headers=auth, timeout=30)
    assert posted.json()["agentsMetrics"]["metricsTotals"]["totalInteractiveChats"] == 3

    # Another account: 403, as for a key of another account; and no writes.
    assert_refused(read(server, "5678", token), 403, "forbidden")
    r = requests.post(events, json=closed_events("b"), headers=auth, timeout=30)
    assert_refused(r, 403, "forbidden")
    assert read(server, ACCOUNT, token).json()["metricsTotals"]["totalInteractiveChats"] == 3
    # A bearer of the same form that no login made: 401.
    assert_refused(read(server, ACCOUNT, "0" * 64), 401, "unauthorized")


# -- refresh and logout --------------------------------------------------------------------------


def test_refresh_and_logout_with_the_cookie(server: Server, alice: dict[str, Any]) -> None:
    client = requests.Session()
    body = login(server, ACCOUNT, "alice", PASSWORD, session=client).json()
    csrf, token = body["csrf"], body["bearer"]
    cookie = client.cookies["Session_id"]

    r = client.post(login_url(server, ACCOUNT, "refresh"), json={"csrf": csrf}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b""
    assert r.cookies["Session_id"] == cookie
    # A wrong or missing csrf value, or the cookie sent to another account: 401, and
    # the session goes on.
    for wrong in ({"csrf": "0" * 64}, {}, {"csrf": None}, {"csrf": 5}):
        r = client.post(login_url(server, ACCOUNT, "refresh"), json=wrong, timeout=30)
        assert_refused(r, 401, "unauthorized")
    r = requests.post(
        login_url(server, "5678", "refresh"),
        json={"csrf": csrf},
        cookies={"Session_id": cookie},
        timeout=30,
    )
    assert_refused(r, 401, "unauthorized")
    assert read(server, ACCOUNT, token).status_code == 200

    r = client.post(login_url(server, ACCOUNT, "logout"), json={"csrf": csrf}, timeout=30)
    assert r.status_code == 200, r.text
    assert "Session_id" not in client.cookies  # cleared by the answer
    assert_refused(read(server, ACCOUNT, token), 401, "unauthorized")
    for what in ("refresh", "logout"):
        r = requests.post(
            login_url(server, ACCOUNT, what),
            json={"csrf": csrf},
            cookies={"Session_id": cookie},
            timeout=30,
        )
        assert_refused(r, 401, "unauthorized")


def test_refresh_and_logout_as_the_community_wrapper_sends_them(
    server: Server, alice: dict[str, Any]
) -> None:
    """No cookie, the csrf value spelled ``csfr``: the csrf value names the session."""
    body = login(server, ACCOUNT, "alice", PASSWORD).json()
    headers = {"content-type": "application/json", "accept": "application/json"}
    for what in ("refresh", "logout"):
        r = requests.post(
            login_url(server, ACCOUNT, what), json={"csfr": body["csrf"]}, headers=headers
        )
        assert r.status_code == 200, r.text
    assert_refused(read(server, ACCOUNT, body["bearer"]), 401, "unauthorized")
    # With the bearer instead of the cookie: the same.
    other = login(server, ACCOUNT, "alice", PASSWORD).json()
    auth = {**headers, "Authorization": f"Bearer {other['bearer']}"}
    r = requests.post(login_url(server, ACCOUNT, "refresh"), json={"csrf": "0" * 64}, headers=auth)
    assert_refused(r, 401, "unauthorized")
    r = requests.post(
        login_url(server, ACCOUNT, "logout"), json={"csrf": other["csrf"]}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert_refused(read(server, ACCOUNT, other["bearer"]), 401, "unauthorized")


def test_sessions_end_when_idle(make_server: MakeServer) -> None:
    srv = make_server(["--session-idle-minutes", "2"])
    create_user(srv.store_url, ACCOUNT, "alice", PASSWORD)
    client = requests.Session()
    body = login(srv, ACCOUNT, "alice", PASSWORD, session=client).json()
    assert body["sessionTTl"] == "120000"
    token, csrf = body["bearer"], body["csrf"]
    srv.set_now(NOW_MS + 100_000)
    assert read(srv, ACCOUNT, token).status_code == 200  # a use: idle from here
    srv.set_now(NOW_MS + 210_000)
    assert read(srv, ACCOUNT, token).status_code == 200
    srv.set_now(NOW_MS + 331_000)  # 121 s unused
    assert_refused(read(srv, ACCOUNT, token), 401, "unauthorized")
    r = client.post(login_url(srv, ACCOUNT, "refresh"), json={"csrf": csrf}, timeout=30)
    assert_refused(r, 401, "unauthorized")

    # A refresh is a use too.
    start = NOW_MS + 331_000
    body = login(srv, ACCOUNT, "alice", PASSWORD, session=client).json()
    srv.set_now(start + 119_000)
    r = client.post(login_url(srv, ACCOUNT, "refresh"), json={"csrf": body["csrf"]}, timeout=30)
    assert r.status_code == 200, r.text
    srv.set_now(start + 238_000)
    assert read(srv, ACCOUNT, body["bearer"]).status_code == 200
    srv.set_now(start + 359_000)
    assert_refused(read(srv, ACCOUNT, body["bearer"]), 401, "unauthorized")


def test_sessions_outlive_a_restart(server: Server, alice: dict[str, Any]) -> None:
    token = login(server, ACCOUNT, "alice", PASSWORD).json()["bearer"]
    server.restart()
    assert read(server, ACCOUNT, token).status_code == 200


def test_sessions_and_failures_are_shared_by_processes(
    store_engine: str, server: Server, alice: dict[str, Any], tmp_path: Path
) -> None:
    """Two server processes on one PostgreSQL database: a session made by one is used,
    refreshed and ended through the other; failures counted by one slow the other."""
    if store_engine != "postgresql":
        pytest.skip("one SQLite store is served by one process")
    (tmp_path / "b").mkdir()
    other = Server(tmp_path / "b", engine="postgresql", workers=1)
    other.store_url = server.store_url
    other.extra_args = []
    other.start()
    try:
        client = requests.Session()
        body = login(server, ACCOUNT, "alice", PASSWORD, session=client).json()
        assert read(other, ACCOUNT, body["bearer"]).status_code == 200
        r = client.post(login_url(other, ACCOUNT, "refresh"), json={"csrf": body["csrf"]})
        assert r.status_code == 200, r.text
        r = client.post(login_url(other, ACCOUNT, "logout"), json={"csrf": body["csrf"]})
        assert r.status_code == 200, r.text
        assert_refused(read(server, ACCOUNT, body["bearer"]), 401, "unauthorized")

        for _ in range(5):
            assert login(server, ACCOUNT, "alice", "not the password").status_code == 401
        assert_refused(login(other, ACCOUNT, "alice", PASSWORD), 429, "too_many_requests")
    finally:
        other.stop()


# -- wrong credentials ---------------------------------------------------------------------------


def _comparable(r: requests.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k.lower(): v for k, v in r.headers.items()}
    for varying in ("date", "x-request-id"):
        headers.pop(varying, None)
    return r.status_code, r.content, headers


def test_wrong_password_and_unknown_user_get_the_same_answer(
    server: Server, alice: dict[str, Any]
) -> None:
    tries: dict[str, list[float]] = {"wrong": [], "unknown": []}
    answers = set()
    for i in range(3):
        for kind, name in (("wrong", "alice"), ("unknown", f"nobody{i}")):
            started = time.perf_counter()
            r = login(server, ACCOUNT, name, "not the password")
            tries[kind].append(time.perf_counter() - started)
            assert_refused(r, 401, "unauthorized")
            answers.add(repr(_comparable(r)))
    # The right password for another account's user, a user name in another case.
    answers.add(repr(_comparable(login(server, "5678", "alice", PASSWORD))))
    answers.add(repr(_comparable(login(server, ACCOUNT, "Alice", PASSWORD))))
    assert len(answers) == 1, answers
    message = login(server, ACCOUNT, "nobody", "x").json()["message"]
    assert "alice" not in message and "exist" not in message
    # An unknown user costs a password check too (scrypt, tens of milliseconds), not
    # just a lookup (a millisecond): its time does not tell that the user is unknown.
    wrong, unknown = statistics.median(tries["wrong"]), statistics.median(tries["unknown"])
    assert unknown > 0.4 * wrong, tries


def test_repeated_failures_are_slowed_down(server: Server, alice: dict[str, Any]) -> None:
    create_user(server.store_url, ACCOUNT, "bob", PASSWORD)
    for _ in range(5):
        assert_refused(login(server, ACCOUNT, "alice", "not the password"), 401, "unauthorized")
    r = login(server, ACCOUNT, "alice", PASSWORD)  # even the right password waits
    assert_refused(r, 429, "too_many_requests")
    assert r.headers["retry-after"] == "1"
    assert login(server, ACCOUNT, "bob", PASSWORD).status_code == 200  # per user name
    server.set_now(NOW_MS + 1_000)
    assert_refused(login(server, ACCOUNT, "ALICE", "not the password"), 401, "unauthorized")
    r = login(server, ACCOUNT, "alice", PASSWORD)  # the 6th failure: 2 s
    assert_refused(r, 429, "too_many_requests")
    assert r.headers["retry-after"] == "2"
    server.set_now(NOW_MS + 3_000)
    assert login(server, ACCOUNT, "alice", PASSWORD).status_code == 200
    # A success clears the user name's failures.
    assert_refused(login(server, ACCOUNT, "alice", "not the password"), 401, "unauthorized")

    # Per address: 20 failures from one address, whatever the names (7 so far).
    for i in range(13):
        assert_refused(login(server, ACCOUNT, f"guess{i}", "not the password"), 401, "unauthorized")
    r = login(server, ACCOUNT, "bob", PASSWORD)
    assert_refused(r, 429, "too_many_requests")
    assert r.headers["retry-after"] == "1"
    server.set_now(NOW_MS + 4_000)
    assert login(server, ACCOUNT, "bob", PASSWORD).status_code == 200

    metrics = requests.get(f"{server.base_url}/metrics", timeout=30).text
    counted = dict(
        re.findall(r'^engactivity_logins_total\{outcome="(\w+)"\} (\S+)$', metrics, re.M)
    )
    assert counted == {"ok": "3.0", "refused": "20.0", "throttled": "3.0"}, counted


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": "alice"}, "password"),
        ({"username": "alice", "password": None}, "password"),
        ({"username": 5, "password": PASSWORD}, "username"),
        ({"username": "alice", "password": ["x"]}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "alice", "password": "x" * 1025}, "password"),
        ([1, 2], "body"),
        ("{", "body"),
        ("x" * 20_000, "body"),
    ],
)
def test_malformed_logins_name_the_field(
    server: Server, alice: dict[str, Any], body: object, field: str
) -> None:
    url = login_url(server, ACCOUNT) + "?v=1.3"
    if isinstance(body, str):
        r = requests.post(url, data=body, headers={"content-type": "application/json"})
    else:
        r = requests.post(url, json=body, timeout=30)
    refused = assert_refused(r, 400, "invalid_request")
    assert refused["field"] == field and refused["allowed"], refused


def test_odd_versions_accounts_and_form_bodies(server: Server, alice: dict[str, Any]) -> None:
    good = {"username": "alice", "password": PASSWORD}
    r = requests.post(login_url(server, ACCOUNT) + "?v=abc", json=good)
    assert assert_refused(r, 400, "invalid_request")["field"] == "v"
    r = requests.post(login_url(server, "a;b") + "?v=1.3", json=good)
    assert assert_refused(r, 400, "invalid_request")["field"] == "accountId"
    assert requests.post(login_url(server, ACCOUNT), json=good).status_code == 200  # no v
    assert requests.post(login_url(server, ACCOUNT) + "?v=1.3", data=good).status_code == 200
    r = requests.get(login_url(server, ACCOUNT))
    assert_refused(r, 405, "method_not_allowed")


# -- users changed by the operator ---------------------------------------------------------------


def test_a_new_password_or_removal_ends_the_users_sessions(
    server: Server, alice: dict[str, Any]
) -> None:
    token = login(server, ACCOUNT, "alice", PASSWORD).json()["bearer"]
    done = users_cli(
        "passwd", "alice", "--account", ACCOUNT, "--store", server.store_url, password="new one!!"
    )
    assert done.returncode == 0, done.stderr
    assert '"sessionsEnded": 1' in done.stdout
    assert_refused(read(server, ACCOUNT, token), 401, "unauthorized")
    assert_refused(login(server, ACCOUNT, "alice", PASSWORD), 401, "unauthorized")
    token = login(server, ACCOUNT, "alice", "new one!!").json()["bearer"]
    done = users_cli("remove", "alice", "--account", ACCOUNT, "--store", server.store_url)
    assert done.returncode == 0, done.stderr
    assert_refused(read(server, ACCOUNT, token), 401, "unauthorized")
    assert_refused(login(server, ACCOUNT, "alice", "new one!!"), 401, "unauthorized")


def test_the_first_user_ends_the_localhost_exception(server: Server) -> None:
    query = f"{server.base_url}/operations/api/account/{ACCOUNT}/engactivity?timeframe=60&v=1"
    assert requests.get(query, timeout=30).status_code == 200
    create_user(server.store_url, ACCOUNT, "alice", PASSWORD)
    assert_refused(requests.get(query, timeout=30), 401, "unauthorized")


def test_secrets_are_not_stored_in_clear(server: Server, alice: dict[str, Any]) -> None:
    client = requests.Session()
    body = login(server, ACCOUNT, "alice", PASSWORD, session=client).json()
    secrets = [PASSWORD, body["bearer"], body["csrf"], client.cookies["Session_id"]]
    assert login(server, ACCOUNT, "alice", "a wrong guess").status_code == 401
    server.stop()  # everything checkpointed into the files
    if server.store_url.startswith("sqlite:///"):
        raw = b"".join(p.read_bytes() for p in server.db.parent.glob("store.db*"))
        assert server.db.with_name("store.db.sessions").exists()
    else:
        import psycopg

        with psycopg.connect(server.store_url) as conn:
            rows = [
                row
                for table in ("login_user", "login_session", "login_failure")
                for row in conn.execute(f"SELECT * FROM {table}").fetchall()
            ]
        raw = repr(rows).encode() + b"".join(
            bytes(v) for row in rows for v in row if isinstance(v, bytes | memoryview)
        )
    assert b"scrypt$ln=15,r=8,p=1$" in raw
    assert b"alice" in raw  # login names are not secret
    for secret in [*secrets, "a wrong guess"]:
        assert secret.encode() not in raw, secret
