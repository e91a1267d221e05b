"""A client written like LivePerson's published samples, run unchanged against a real
server process over HTTPS, on both stores.

The test plays the operator of the drop-in recipe (docs/deploy.md): the LivePerson
host names lead to the server (tests/clients/with_hosts.py stands in for /etc/hosts
and the ports 80 and 443), the server has a certificate for them signed by a CA made
here, and the client trusts that CA through REQUESTS_CA_BUNDLE. The client finds its
host through domain discovery over plain http, then signs each method's request with
OAuth 1.0a in the header, the query or the form body, sends JSON with nulls, forms,
and Content-Type json on GET (tests/clients/lp_operational_sample.py).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.auth.keyhelp import create_key, oauth1
from tests.auth.loginhelp import create_user
from tests.clients.tlshelp import Authority, TLSServer, new_authority
from tests.clients.traffic import HANDLING_S, INTERACTIVE, NON_INTERACTIVE, contact_centre
from tests.conftest import ENGINES

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "clients" / "lp_operational_sample.py"
LOGIN_SAMPLE = ROOT / "tests" / "clients" / "lp_login_sample.py"
ACCOUNT = "13350576"
PASSWORD = "correct horse battery staple"
SERVICE_HOST = "va.data.liveperson.net"


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


@pytest.fixture
def served(
    tmp_path: Path, store_engine: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TLSServer, Authority, dict[str, Any]]]:
    """The server over TLS with the contact centre's events, and a read,write key."""
    if store_engine == "postgresql":  # no default key file: the server and the CLI share one
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        monkeypatch.setenv("ENGACTIVITY_MASTER_KEY", key)
    authority = new_authority(tmp_path)
    srv = TLSServer(
        tmp_path, authority, store_engine, ["--public-host", SERVICE_HOST], workers=2
    ).start()
    try:
        key = create_key(srv.store_url, ACCOUNT, "read,write")
        events = f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/events"
        ca = str(authority.ca_file)
        stored = requests.post(events, json=contact_centre("d"), auth=oauth1(key), verify=ca)
        assert stored.json() == {"accepted": 14, "duplicates": 0, "expired": 0}, stored.text
        yield srv, authority, key
    finally:
        srv.stop()


def run_sample(
    srv: TLSServer, authority: Authority, key: dict[str, Any], sample: Path = SAMPLE
) -> dict[str, Any]:
    rules = ",".join(
        [
            f"api.liveperson.net:80=127.0.0.1:{srv.http_port}",
            f"{SERVICE_HOST}:443=127.0.0.1:{srv.port}",
        ]
    )
    env = {
        **os.environ,
        "REQUESTS_CA_BUNDLE": str(authority.ca_file),
        "LP_ACCOUNT": ACCOUNT,
        "LP_APP_KEY": key["appKey"],
        "LP_APP_SECRET": key["secret"],
        "LP_ACCESS_TOKEN": key["accessToken"],
        "LP_ACCESS_TOKEN_SECRET": key["accessTokenSecret"],
        "LP_USERNAME": "supervisor",
        "LP_PASSWORD": PASSWORD,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.clients.with_hosts", rules, str(sample)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    results: dict[str, Any] = json.loads(done.stdout)
    return results


def asked_directly(srv: TLSServer, authority: Authority, key: dict[str, Any], path: str) -> Any:
    """The same question as a plain signed GET with a query string."""
    url = f"{srv.base_url}/operations/api/account/{ACCOUNT}/{path}"
    answer = requests.get(url, auth=oauth1(key), verify=str(authority.ca_file), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_client_written_like_the_published_samples_runs_unchanged(
    served: tuple[TLSServer, Authority, dict[str, Any]],
) -> None:
    srv, authority, key = served
    results = run_sample(srv, authority, key)
    assert {name: result["status"] for name, result in results.items()} == {
        "discovery": 200,
        "engactivity_get_header": 200,
        "queuehealth_get_query": 200,
        "engactivity_post_json_nulls": 200,
        "queuestate_post_form_header": 200,
        "sla_post_form_body": 200,
        "agentactivity_post_form_body": 200,
    }
    body = {name: result["body"] for name, result in results.items()}
    assert body["discovery"]["baseURI"] == SERVICE_HOST

    totals = body["engactivity_get_header"]["agentsMetrics"]["metricsTotals"]
    assert totals["totalInteractiveChats"] == INTERACTIVE
    assert totals["totalNonInteractiveChats"] == NON_INTERACTIVE
    assert totals["totalHandlingTime"] == HANDLING_S
    assert body["engactivity_post_json_nulls"]["agentsMetrics"]["metricsTotals"] == totals
    assert "skillsMetricsPerAgent" not in body["engactivity_post_json_nulls"]

    skill = body["queuehealth_get_query"]["skillsMetrics"]["2"]
    assert (skill["enteredQEng"], skill["connectedEng"], skill["abandonedEng"]) == (3, 2, 1)
    assert body["queuestate_post_form_header"]["skills"]["2"]["currentQueueSize"] == 4
    ranges = body["sla_post_form_body"]["slaDataRange"]
    assert [ranges[edge]["chats"] for edge in ("0", "30", "60")] == [2, 1, 0]
    agent = body["agentactivity_post_form_body"]["agentsMetrics"]["metricsPerAgent"]["8"]
    away = next(state for state in agent if state["name"] == "Away")
    assert away["reasons"][0]["id"] == "5"

    # Each answer is the one the same question gets as a plain GET.
    direct = {
        "engactivity_get_header": "engactivity?timeframe=60&v=1&skillIds=all&agentIds=all"
        "&interval=15",
        "queuehealth_get_query": "queuehealth?timeframe=60&v=1&skillIds=all&interval=30",
        "engactivity_post_json_nulls": "engactivity?timeframe=60&v=1&agentIds=all",
        "queuestate_post_form_header": "queuestate?v=1&skillIds=all",
        "sla_post_form_body": "sla?timeframe=60&v=1&skillIds=all&histogram=0,30,60",
        "agentactivity_post_form_body": "agentactivity?timeframe=60&v=1&agentIds=all",
    }
    for name, path in direct.items():
        assert body[name] == asked_directly(srv, authority, key, path), name


NAMES = {
    "skills": [{"id": 2, "name": "Billing"}, {"id": 5, "name": "Sales, Europe"}],
    "users": [
        {"id": 7, "loginName": "ana", "fullName": "Ana Silva", "skillIds": [2, 5]},
        {"id": 8, "loginName": "ben", "fullName": "Ben Okafor", "skillIds": [2]},
    ],
}


def test_a_client_that_logs_in_and_names_the_metrics_runs_unchanged(
    served: tuple[TLSServer, Authority, dict[str, Any]],
) -> None:
    """Discovery of every service first (as the community wrapper's constructor does),
    the Login Service with a user name and password, the account's names from the
    configuration service, the methods with the session's bearer, a CSV, then refresh
    and logout (after which the bearer is refused)."""
    srv, authority, key = served
    config = f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/configuration"
    written = requests.post(config, json=NAMES, auth=oauth1(key), verify=str(authority.ca_file))
    assert written.status_code == 200, written.text
    create_user(srv.store_url, ACCOUNT, "supervisor", PASSWORD)
    results = run_sample(srv, authority, key, LOGIN_SAMPLE)
    statuses = {name: r["status"] for name, r in results.items() if name != "csv"}
    assert statuses == {
        "discovery_agentVep": 200,
        "discovery_accountConfigReadOnly": 200,
        "discovery_leDataReporting": 200,
        "login": 200,
        "config_skills": 200,
        "config_users": 200,
        "engactivity": 200,
        "agentactivity": 200,
        "refresh": 200,
        "logout": 200,
        "engactivity_after_logout": 401,
    }
    assert results["login"]["body"]["config"]["loginName"] == "supervisor"
    # Skill 2: one interactive chat of two; skill 5: one. Both agents logged in for the
    # last 20 minutes.
    assert results["csv"] == (
        "skill,interactive chats\n"
        "Billing,1\n"
        '"Sales, Europe",1\n'
        "agent,seconds logged in\n"
        "Ana Silva,1200\n"
        "Ben Okafor,1200\n"
    )
