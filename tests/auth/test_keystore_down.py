"""A SQLite key store that cannot be read: 503 like the rest of the API, then recovery.

The key table is taken away under a running server (renamed by another connection,
as a restore or a broken file would leave it): a key that cannot be looked up is
answered with the API's 503 ``store_unavailable``, never 401 and never a reset
connection; once the table is back the same keys work without a restart. The
PostgreSQL key store's outage is tested with the database restart in
tests/api/test_scaleout.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from tests.auth.keyhelp import bearer, create_key, oauth1
from tests.conftest import NOW_MS, Server

ACCOUNT = "acme"


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path).start()
    yield srv
    srv.stop()


def _rename(db: Path, old: str, new: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
    finally:
        conn.close()


def test_unreadable_key_table_gives_503_then_recovers(sqlite_server: Server) -> None:
    srv = sqlite_server
    writer = create_key(srv.store_url, ACCOUNT, "write", kind="bearer")
    reader = create_key(srv.store_url, ACCOUNT, "read")  # OAuth 1.0a
    events = f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/events"
    query = f"{srv.base_url}/operations/api/account/{ACCOUNT}/engactivity"
    params = {"timeframe": 60, "v": 1}

    def read() -> requests.Response:
        return requests.get(query, params=params, auth=oauth1(reader), timeout=30)

    def write(name: str) -> httpx.Response:
        event = {"eventId": name, "type": "connected", "time": NOW_MS - 60_000, "agentId": 1}
        return httpx.post(events, json=[event], headers=bearer(writer), timeout=30)

    assert write("before").status_code == 200
    assert read().status_code == 200

    _rename(srv.db, "api_key", "api_key_away")
    for response in (read(), write("during")):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"] == "store_unavailable"
    assert httpx.get(f"{srv.base_url}/healthz", timeout=10).status_code == 200
    assert "key store unavailable" in srv.log_path.read_text()

    _rename(srv.db, "api_key_away", "api_key")
    assert write("after").status_code == 200
    response = read()
    assert response.status_code == 200, response.text
    assert response.json()["metricsTotals"]["connectedEngagements"] == 2
