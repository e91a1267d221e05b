"""Fuzzing against a real server process: every operation of the OpenAPI description
(schemathesis), and the credential parsers (hypothesis). Never a 5xx; a refused
request never changes a count.

Bounded for CI: a few dozen examples per operation (ENGACTIVITY_FUZZ_EXAMPLES raises it).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth.keyhelp import create_key, oauth1
from tests.conftest import NOW_MS, Server

EXAMPLES = int(os.environ.get("ENGACTIVITY_FUZZ_EXAMPLES", "40"))
ACCOUNT = "1234"
_ACCOUNT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No key yet, loopback: every request reaches the routes (the localhost exception)."""
    srv = Server(tmp_path_factory.mktemp("fuzz-open")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A server with keys: requests without good credentials are refused."""
    srv = Server(tmp_path_factory.mktemp("fuzz-locked")).start()
    key = create_key(srv.store_url, ACCOUNT, "read,write")
    yield srv, key
    srv.stop()


def _served_description() -> dict[str, Any]:
    """The description the server serves at /openapi.json, built here without serving.

    (Loading it from a running server needs schemathesis' lazy fixture loader, which
    does not work with this pytest; test_the_description_is_the_served_one checks
    that the two are the same.)
    """
    from engactivity.accountconfig.store import ConfigStore
    from engactivity.api.app import create_app
    from engactivity.auth.login import LoginService, open_login_stores
    from engactivity.clock import system_clock
    from engactivity.methods import tables_of
    from engactivity.settings import Settings
    from engactivity.store import open_database, open_store

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/description.db"
        database = open_database(url)
        store = open_store(url, system_clock, tables_of(), database=database)
        logins = LoginService(open_login_stores(database, url, 60_000), system_clock)
        try:
            settings = Settings(insecure_no_auth=True)
            configs = ConfigStore(database)
            app = create_app(settings, system_clock, store, None, configs=configs, logins=logins)
            return app.openapi()
        finally:
            logins.close()
            store.close()
            database.close()


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    items = value if isinstance(value, list) else [value]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


DESCRIPTION = _served_description()
schema = schemathesis.openapi.from_dict(DESCRIPTION)


def test_the_description_is_the_served_one(open_server: Server) -> None:
    served = requests.get(f"{open_server.base_url}/openapi.json", timeout=30).json()
    assert served == DESCRIPTION
    operations = {(m.upper(), p) for p, ops in served["paths"].items() for m in ops}
    assert ("POST", "/api/v1/accounts/{accountId}/events") in operations
    assert ("GET", "/operations/api/account/{accountId}/engactivity") in operations


def total_count(srv: Server, account: str, auth: Any = None) -> Any:
    r = requests.get(
        f"{srv.base_url}/operations/api/account/{account}/engactivity",
        params={"timeframe": 1440, "v": 1},
        auth=auth,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["metricsTotals"]


@schema.parametrize()
@FUZZ_SETTINGS
def test_no_operation_answers_5xx(case: schemathesis.Case, open_server: Server) -> None:
    account = (case.path_parameters or {}).get("accountId")
    watch = (
        case.method.upper() == "POST"
        and case.path.endswith("/events")
        and isinstance(account, str)
        and _ACCOUNT_RE.fullmatch(account) is not None
    )
    before = total_count(open_server, account) if watch else None
    response = case.call(base_url=open_server.base_url, timeout=30)
    assert response.status_code < 500, response.text
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith(("application/json", "text/plain")), content_type
    if watch and response.status_code != 200:
        assert total_count(open_server, str(account)) == before


_header_values = st.one_of(
    st.text(max_size=300),
    st.builds(lambda t: f"Bearer {t}", st.text(max_size=120)),
    st.builds(lambda t: f"Bearer ea_{t}", st.text(alphabet="0123456789abcdef_-xyzAB", max_size=80)),
    st.builds(
        lambda params: "OAuth " + ", ".join(f'{k}="{v}"' for k, v in params),
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "oauth_consumer_key",
                        "oauth_token",
                        "oauth_signature",
                        "oauth_signature_method",
                        "oauth_timestamp",
                        "oauth_nonce",
                        "oauth_version",
                        "realm",
                        "other",
                    ]
                ),
                st.text(max_size=40),
            ),
            max_size=9,
        ),
    ),
)


@given(
    header=_header_values,
    query=st.text(max_size=80),
    form=st.one_of(st.none(), st.text(max_size=200)),
)
@FUZZ_SETTINGS
def test_bad_credentials_are_refused_never_5xx(
    locked: tuple[Server, dict[str, Any]], header: str, query: str, form: str | None
) -> None:
    srv, key = locked
    headers = {"Authorization": header.encode("utf-8", "replace").decode("latin-1")}
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    base = f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/events"
    try:
        r = requests.post(
            f"{base}?{query}", headers=headers, data=(form or "").encode(), timeout=30
        )
    except (requests.exceptions.InvalidHeader, ValueError):
        return  # the client itself refuses to send such a header
    assert r.status_code in (400, 401, 413), r.text
    assert r.status_code != 200
    r = requests.get(
        f"{srv.base_url}/operations/api/account/{ACCOUNT}/engactivity?timeframe=5&v=1",
        headers=headers,
        timeout=30,
    )
    assert r.status_code in (400, 401), r.text
    assert total_count(srv, ACCOUNT, oauth1(key)) == ZERO


@given(
    events=st.lists(
        st.fixed_dictionaries(
            {
                "eventId": st.text(max_size=20),
                "type": st.sampled_from(["connected", "closed"]),
                "time": st.integers(NOW_MS - 3_600_000, NOW_MS),
            }
        ),
        max_size=5,
    )
)
@FUZZ_SETTINGS
def test_refused_writes_change_nothing(
    locked: tuple[Server, dict[str, Any]], events: list[dict[str, object]]
) -> None:
    """Well-formed batches, sent with a read-only key, without a key, or to another
    account: refused, and the counts stay as they were."""
    srv, key = locked
    reader = create_reader(srv)
    before = total_count(srv, ACCOUNT, oauth1(key))
    url = f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/events"
    assert requests.post(url, json=events, auth=oauth1(reader), timeout=30).status_code == 403
    assert requests.post(url, json=events, timeout=30).status_code == 401
    other = url.replace(f"/{ACCOUNT}/", "/999/")
    assert requests.post(other, json=events, auth=oauth1(key), timeout=30).status_code == 403
    assert total_count(srv, ACCOUNT, oauth1(key)) == before


ZERO = {
    "totalInteractiveChats": 0,
    "totalNonInteractiveChats": 0,
    "totalHandlingTime": 0,
    "nonInteractiveTotalHandlingTime": 0,
    "connectedEngagements": 0,
}

_readers: dict[Path, dict[str, Any]] = {}


def create_reader(srv: Server) -> dict[str, Any]:
    if srv.db not in _readers:
        _readers[srv.db] = create_key(srv.store_url, ACCOUNT, "read")
    return _readers[srv.db]
