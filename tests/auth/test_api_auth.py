"""Authentication and authorization against a real server process over real HTTP.

Keys are made with ``engactivity keys create`` (a separate process, as an operator
would); clients are ``requests`` with ``requests_oauthlib.OAuth1``, the reference's
own sample style, unchanged.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests

from tests.auth.keyhelp import bearer, create_key, oauth1, revoke_key
from tests.conftest import ENGINES, NOW_MS, Server

ACCOUNT = "1234"


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    """Both engines; PostgreSQL runs two worker processes, so revocations and nonces
    are checked across processes."""
    engine: str = request.param
    return engine


@pytest.fixture(autouse=True)
def master_key(monkeypatch: pytest.MonkeyPatch, store_engine: str) -> None:
    """PostgreSQL has no default key file: the servers and the CLI share this one."""
    if store_engine == "postgresql":
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        monkeypatch.setenv("ENGACTIVITY_MASTER_KEY", key)


def query_url(srv: Server, account: str = ACCOUNT) -> str:
    return f"{srv.base_url}/operations/api/account/{account}/engactivity"


def events_url(srv: Server, account: str = ACCOUNT) -> str:
    return f"{srv.base_url}/api/v1/accounts/{account}/events"


def batch(prefix: str, n: int = 3) -> list[dict[str, object]]:
    return [
        {
            "eventId": f"{prefix}-{i}",
            "type": "closed",
            "time": NOW_MS - 60_000,
            "skillId": 2,
            "agentId": 7,
            "interactive": True,
            "handlingTime": 10,
        }
        for i in range(n)
    ]


def totals(srv: Server, auth: Any = None, headers: dict[str, str] | None = None) -> Any:
    r = requests.get(
        query_url(srv), params={"timeframe": 60, "v": 1}, auth=auth, headers=headers, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["metricsTotals"]


def assert_refused(r: requests.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["error"] == ("unauthorized" if status == 401 else "forbidden")
    assert set(body) == {"error", "message"}
    if status == 401:
        assert "Bearer" in r.headers["www-authenticate"]
        assert "OAuth" in r.headers["www-authenticate"]


@pytest.fixture
def keyed(server: Server) -> tuple[Server, dict[str, Any]]:
    """A running server whose store has a read,write OAuth 1.0a key for ACCOUNT."""
    return server, create_key(server.store_url, ACCOUNT, "read,write")


@pytest.mark.parametrize("method", ["HMAC-SHA1", "HMAC-SHA256"])
def test_the_reference_python_sample_reads_and_writes(
    keyed: tuple[Server, dict[str, Any]], method: str
) -> None:
    srv, key = keyed
    auth = oauth1(key, method)
    r = requests.post(events_url(srv), json=batch(method), auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3, "duplicates": 0, "expired": 0}

    r = requests.get(
        query_url(srv), params={"timeframe": 60, "v": 1, "skillIds": "all"}, auth=auth, timeout=30
    )
    assert r.status_code == 200, r.text
    skill = r.json()["skillsMetricsPerAgent"]["metricsPerSkill"]["2"]
    assert skill["metricsPerAgent"]["7"]["totalInteractiveChats"] == 3
    assert skill["metricsTotals"]["totalHandlingTime"] == 30

    r = requests.post(
        query_url(srv), json={"timeframe": 60, "v": 1, "agentIds": [7]}, auth=auth, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.json()["agentsMetrics"]["metricsTotals"]["totalInteractiveChats"] == 3


def test_signed_form_parameters_are_part_of_the_signature(
    keyed: tuple[Server, dict[str, Any]],
) -> None:
    srv, key = keyed
    session = requests.Session()
    form = {"timeframe": "60", "v": "1"}
    signed = requests.Request("POST", query_url(srv), data=form, auth=oauth1(key)).prepare()
    # The signature covers the form body, and the form is the query's parameters.
    answer = session.send(signed)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"metricsTotals"}
    tampered = requests.Request("POST", query_url(srv), data=form, auth=oauth1(key)).prepare()
    tampered.body = "timeframe=1440&v=1"
    tampered.headers["Content-Length"] = str(len(tampered.body))
    assert_refused(session.send(tampered), 401)


def test_signatures_in_the_query_and_in_a_form_body_verify(
    keyed: tuple[Server, dict[str, Any]],
) -> None:
    """RFC 5849 section 3.5: the header, the query string or the form body; the form's
    fields are in the signature base string wherever the signature is."""
    srv, key = keyed
    session = requests.Session()
    reference = totals(srv, auth=oauth1(key))
    r = session.get(
        query_url(srv), params={"timeframe": 60, "v": 1}, auth=oauth1(key, signature_type="query")
    )
    assert r.status_code == 200, r.text
    assert r.json()["metricsTotals"] == reference
    assert "oauth_signature=" in (r.request.url or "")

    form = {"timeframe": "60", "v": "1"}
    by_body = requests.Request(
        "POST", query_url(srv), data=form, auth=oauth1(key, signature_type="body")
    ).prepare()
    assert "Authorization" not in by_body.headers and "oauth_signature=" in str(by_body.body)
    r = session.send(by_body)
    assert r.status_code == 200, r.text
    assert r.json()["metricsTotals"] == reference

    # A field changed or added after signing breaks the signature.
    for change in ("timeframe=60", "timeframe=1440"), ("v=1", "v=1&skillIds=all"):
        tampered = requests.Request(
            "POST", query_url(srv), data=form, auth=oauth1(key, signature_type="body")
        ).prepare()
        tampered.body = str(tampered.body).replace(*change)
        tampered.headers["Content-Length"] = str(len(tampered.body))
        assert_refused(session.send(tampered), 401)

    # Signed in two places at once: refused (the RFC allows one).
    twice = requests.Request(
        "POST", query_url(srv), data=form, auth=oauth1(key, signature_type="body")
    ).prepare()
    header = oauth1(key)(requests.Request("GET", query_url(srv)).prepare()).headers
    twice.headers["Authorization"] = header["Authorization"]
    assert_refused(session.send(twice), 401)


def signed_get(srv: Server, auth: Any, account: str = ACCOUNT) -> requests.PreparedRequest:
    return requests.Request(
        "GET", query_url(srv, account), params={"timeframe": 60, "v": 1}, auth=auth
    ).prepare()


def test_every_bad_oauth1_request_is_refused(keyed: tuple[Server, dict[str, Any]]) -> None:
    srv, key = keyed
    session = requests.Session()

    tampered = signed_get(srv, oauth1(key))
    header = tampered.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    tampered.headers["Authorization"] = header.replace('oauth_signature="', 'oauth_signature="A')
    assert_refused(session.send(tampered), 401)

    wrong_secret = oauth1({**key, "secret": "0" * 32})
    assert_refused(session.send(signed_get(srv, wrong_secret)), 401)
    wrong_token_secret = oauth1({**key, "accessTokenSecret": "0" * 32})
    assert_refused(session.send(signed_get(srv, wrong_token_secret)), 401)
    wrong_token = oauth1({**key, "accessToken": "1" * 32})
    assert_refused(session.send(signed_get(srv, wrong_token)), 401)
    unknown_key = oauth1({**key, "appKey": "2" * 32})
    assert_refused(session.send(signed_get(srv, unknown_key)), 401)

    stale = oauth1(key, timestamp=str(int(time.time()) - 3600))
    assert_refused(session.send(signed_get(srv, stale)), 401)
    future = oauth1(key, timestamp=str(int(time.time()) + 3600))
    assert_refused(session.send(signed_get(srv, future)), 401)

    once = signed_get(srv, oauth1(key))
    assert session.send(once).status_code == 200
    assert_refused(session.send(once), 401)  # the same nonce again: a replay

    plaintext = oauth1(key, "PLAINTEXT")
    assert_refused(session.send(signed_get(srv, plaintext)), 401)

    # Signed for another host: the base string differs from the URL the server got.
    other_host = signed_get(srv, oauth1(key))
    other_host.headers["Host"] = "example.com"
    assert_refused(session.send(other_host), 401)


def test_accounts_and_scopes_are_enforced(server: Server) -> None:
    reader = create_key(server.store_url, ACCOUNT, "read")
    writer = create_key(server.store_url, ACCOUNT, "write", kind="bearer")
    other = create_key(server.store_url, "5678", "read,write")

    r = requests.post(events_url(server), json=batch("w"), headers=bearer(writer), timeout=30)
    assert r.status_code == 200, r.text
    before = totals(server, auth=oauth1(reader))
    assert before["totalInteractiveChats"] == 3

    # Refused writes: a read key, another account's key, no key, a bad key.
    refusals: list[tuple[Callable[[], requests.Response], int]] = [
        (lambda: requests.post(events_url(server), json=batch("r"), auth=oauth1(reader)), 403),
        (lambda: requests.post(events_url(server), json=batch("o"), auth=oauth1(other)), 403),
        (lambda: requests.post(events_url(server), json=batch("n")), 401),
        (
            lambda: requests.post(
                events_url(server), json=batch("b"), headers={"Authorization": "Bearer nope"}
            ),
            401,
        ),
    ]
    for send, status in refusals:
        assert_refused(send(), status)
    assert totals(server, auth=oauth1(reader)) == before

    # Refused reads: a write key, another account's key, no key.
    r = requests.get(query_url(server), params={"timeframe": 60, "v": 1}, headers=bearer(writer))
    assert_refused(r, 403)
    assert "may not read account 1234" in r.json()["message"]
    r = requests.get(query_url(server), params={"timeframe": 60, "v": 1}, auth=oauth1(other))
    assert_refused(r, 403)
    # A final newline still reaches the route (its regex ends in $): checked as it.
    r = requests.get(
        query_url(server) + "%0A", params={"timeframe": 60, "v": 1}, auth=oauth1(other)
    )
    assert_refused(r, 403)
    assert_refused(requests.get(query_url(server), params={"timeframe": 60, "v": 1}), 401)
    # The other account's key reads its own account.
    r = requests.get(
        query_url(server, "5678"), params={"timeframe": 60, "v": 1}, auth=oauth1(other)
    )
    assert r.status_code == 200


def test_revoked_keys_stop_working_at_once(server: Server) -> None:
    oauth_key = create_key(server.store_url, ACCOUNT, "read")
    bearer_key = create_key(server.store_url, ACCOUNT, "read", kind="bearer")
    assert totals(server, auth=oauth1(oauth_key))["connectedEngagements"] == 0
    assert totals(server, headers=bearer(bearer_key))["connectedEngagements"] == 0

    revoke_key(server.store_url, oauth_key["keyId"])
    revoke_key(server.store_url, bearer_key["keyId"])
    r = requests.get(query_url(server), params={"timeframe": 60, "v": 1}, auth=oauth1(oauth_key))
    assert_refused(r, 401)
    r = requests.get(
        query_url(server), params={"timeframe": 60, "v": 1}, headers=bearer(bearer_key)
    )
    assert_refused(r, 401)


def test_bearer_tokens_and_secrets_are_not_stored_in_clear(server: Server) -> None:
    bearer_key = create_key(server.store_url, ACCOUNT, "read,write", kind="bearer")
    oauth_key = create_key(server.store_url, ACCOUNT, "read")
    assert totals(server, headers=bearer(bearer_key))["connectedEngagements"] == 0
    server.stop()  # everything checkpointed into the file
    if server.store_url.startswith("sqlite:///"):
        raw = server.db.read_bytes()
        for wal in server.db.parent.glob("store.db-*"):
            raw += wal.read_bytes()
    else:
        import psycopg

        with psycopg.connect(server.store_url) as conn:
            rows = conn.execute("SELECT * FROM api_key").fetchall()
        raw = repr(rows).encode() + b"".join(
            bytes(v) for row in rows for v in row if isinstance(v, bytes | memoryview)
        )
    secret_part = bearer_key["token"].split("_", 2)[2]  # the secret itself may hold "_"
    assert secret_part.encode() not in raw
    assert oauth_key["secret"].encode() not in raw
    assert oauth_key["accessTokenSecret"].encode() not in raw
    assert oauth_key["appKey"].encode() in raw  # ids are not secret


def test_no_key_yet_on_loopback_serves_requests_without_credentials(server: Server) -> None:
    log = server.log_path.read_text()
    assert "no API key or user exists yet" in log and "engactivity keys create" in log
    r = requests.get(query_url(server), params={"timeframe": 60, "v": 1}, timeout=30)
    assert r.status_code == 200
    # Credentials, when sent, are checked all the same.
    r = requests.get(
        query_url(server),
        params={"timeframe": 60, "v": 1},
        headers={"Authorization": "Bearer ea_0123456789abcdef_" + "x" * 43},
    )
    assert_refused(r, 401)

    # Another process creates the first key: from the next request on, no exception.
    key = create_key(server.store_url, "other", "read", kind="bearer")
    assert_refused(requests.get(query_url(server), params={"timeframe": 60, "v": 1}), 401)
    revoke_key(server.store_url, key["keyId"])  # revoked keys count: it never comes back
    server.restart()
    assert_refused(requests.get(query_url(server), params={"timeframe": 60, "v": 1}), 401)


def test_a_public_bind_without_keys_refuses_everything(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server(["--host", "0.0.0.0"])
    assert_refused(requests.get(query_url(srv), params={"timeframe": 60, "v": 1}), 401)
    assert_refused(requests.post(events_url(srv), json=batch("x")), 401)
    assert_refused(requests.get(f"{srv.base_url}/metrics"), 401)
    assert requests.get(f"{srv.base_url}/healthz").status_code == 200


def test_open_endpoints_need_no_key(server: Server) -> None:
    create_key(server.store_url, ACCOUNT, "read")
    base = server.base_url
    for path in (
        "/healthz",
        "/readyz",
        f"/api/account/{ACCOUNT}/service/leDataReporting/baseURI.json?version=1.0",
        "/",
        "/wallboard",
        "/wallboard/static/app.js",
        "/openapi.json",
        "/metrics",  # loopback bind, no --metrics-token
    ):
        assert httpx.get(base + path).status_code == 200, path
    # Unknown paths need a key too: nothing is open by default.
    assert httpx.get(base + "/nothing-here").status_code == 401


def test_metrics_token(make_server: Callable[..., Server]) -> None:
    srv = make_server(["--metrics-token", "s3cret-metrics"])
    create_key(srv.store_url, ACCOUNT, "read")
    assert httpx.get(f"{srv.base_url}/metrics").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{srv.base_url}/metrics", headers=wrong).status_code == 401
    right = {"Authorization": "Bearer s3cret-metrics"}
    r = httpx.get(f"{srv.base_url}/metrics", headers=right)
    assert r.status_code == 200
    assert "engactivity_http_requests" in r.text


def test_insecure_no_auth_warns_and_serves_everyone(make_server: Callable[..., Server]) -> None:
    srv = make_server(["--insecure-no-auth"])
    create_key(srv.store_url, ACCOUNT, "read")
    srv.restart()
    assert "AUTHENTICATION IS OFF" in srv.log_path.read_text()
    r = requests.post(events_url(srv), json=batch("i"), timeout=30)
    assert r.status_code == 200
    assert totals(srv)["totalInteractiveChats"] == 3


def test_simulate_over_http_sends_the_token(server: Server) -> None:
    import os
    import subprocess
    import sys

    key = create_key(server.store_url, ACCOUNT, "write", kind="bearer")
    cmd = [sys.executable, "-m", "engactivity", "simulate", "--account", ACCOUNT]
    cmd += ["--url", server.base_url, "--backfill", "0.1", "--duration", "0", "--json"]
    env = {**os.environ, "ENGACTIVITY_FAKE_NOW_FILE": str(server.clock_file)}
    refused = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "ENGACTIVITY_TOKEN" in refused.stderr
    env["ENGACTIVITY_TOKEN"] = key["token"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def test_oversized_headers_get_431(server: Server) -> None:
    r = httpx.get(f"{server.base_url}/healthz", headers={"X-Big": "a" * 40_000})
    assert r.status_code == 431
    assert r.json()["error"] == "headers_too_large"
    assert httpx.get(f"{server.base_url}/healthz", headers={"X-Ok": "a" * 8000}).status_code == 200
