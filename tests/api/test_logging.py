"""Request ids and log lines: one per request and one per batch, text or JSON."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.api.test_ingest import ack, connected, sample_events
from tests.auth.keyhelp import create_key
from tests.conftest import Server

MakeServer = Callable[..., Server]


def log_text(server: Server, needle: str, timeout: float = 5) -> str:
    """The server's log once it contains ``needle`` (log lines are written after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.log_path.read_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.02)


def test_request_id_is_echoed_or_generated(server: Server) -> None:
    given = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": "abc-123.x:y"})
    assert given.headers["x-request-id"] == "abc-123.x:y"
    made = httpx.get(f"{server.base_url}/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    other = httpx.get(f"{server.base_url}/healthz")
    assert other.headers["x-request-id"] != made.headers["x-request-id"]
    # Not a sane token (spaces, too long): replaced, never echoed.
    for bad in ("has spaces", "x" * 129, "<script>"):
        response = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    # Errors carry it too.
    missing = httpx.get(f"{server.base_url}/no/such/path", headers={"X-Request-ID": "r404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "r404"


def test_text_log_has_a_line_per_request_and_per_batch(server: Server) -> None:
    # A real key: credentials that are sent are checked, and must never be logged.
    token = create_key(server.store_url, "acme", "read,write", kind="bearer")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.post(
        f"{server.base_url}/api/v1/accounts/acme/events",
        json=sample_events("log"),
        headers={"X-Request-ID": "batch-one", **auth},
    )
    assert ack(response)["accepted"] == 6
    query = httpx.get(
        f"{server.base_url}/operations/api/account/acme/engactivity",
        params={"timeframe": "60", "v": "1", "access_token": "t0ps3cret"},
        headers={"X-Request-ID": "query-one", **auth},
    )
    assert query.status_code == 200
    bad = httpx.post(
        f"{server.base_url}/api/v1/accounts/acme/events",
        json=[{"eventId": "x"}],
        headers={"X-Request-ID": "batch-bad", **auth},
    )
    assert bad.status_code == 400
    text = log_text(server, "request_id=batch-bad")
    lines = text.splitlines()
    access = [line for line in lines if "engactivity.access" in line]
    batch = [line for line in lines if "request_id=batch-one" in line]
    assert len(batch) == 2, batch  # the request line and the batch line
    assert any("POST /api/v1/accounts/acme/events 200" in line for line in batch)
    stored = next(line for line in batch if "batch stored" in line)
    assert "account=acme" in stored and "accepted=6" in stored and "events=6" in stored
    assert any(
        "GET /operations/api/account/acme/engactivity?timeframe=60&v=1&access_token=*** 200" in line
        and "request_id=query-one" in line
        for line in access
    ), access
    assert any("batch rejected" in line and "request_id=batch-bad" in line for line in lines)
    # No secrets: not the Authorization header, not a secret-looking parameter.
    assert token not in text and token.split("_", 2)[2] not in text
    assert "t0ps3cret" not in text

    # A secret-looking name written with percent-escapes is masked too.
    sneaky = httpx.get(
        f"{server.base_url}/operations/api/account/acme/engactivity?timeframe=60&v=1&%73ecret=hidden-value",
        headers={"X-Request-ID": "query-two", **auth},
    )
    assert sneaky.status_code == 200
    text = log_text(server, "request_id=query-two")
    assert "request_id=query-two" in text
    assert "hidden-value" not in text


def test_json_log_format(make_server: MakeServer) -> None:
    server = make_server(["--log-format", "json"])
    assert ack(server.send("acme", [connected("j1")]))["accepted"] == 1
    httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": "json-probe"})
    text = log_text(server, "json-probe")
    records: list[dict[str, Any]] = [
        json.loads(line) for line in text.splitlines() if line.startswith("{")
    ]
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    probe = next(r for r in records if r.get("request_id") == "json-probe")
    assert probe["logger"] == "engactivity.access"
    assert probe["status"] == 200 and probe["path"] == "/healthz" and probe["method"] == "GET"
    assert isinstance(probe["duration_ms"], float | int)
    batch = next(r for r in records if r["message"] == "batch stored")
    assert batch["accepted"] == 1 and batch["account"] == "acme"
    assert batch["request_id"]
    # uvicorn's own lines come out as JSON too.
    assert any(r["logger"].startswith("uvicorn") for r in records)


def test_bad_log_format_fails_at_start(tmp_path: Any) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "engactivity", "serve", "--log-format", "xml", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--log-format" in done.stderr
