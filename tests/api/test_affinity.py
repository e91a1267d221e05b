"""The account-affine balancing of docs/deploy.md, run for real: the nginx and HAProxy
configurations printed there, pointed at two server processes on one PostgreSQL
database, send every request of an account to the same process, so each account is
loaded into memory once in all; the answers are exact whichever process gives them.
Skipped where nginx or haproxy is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import oracle
from tests.api.test_engactivity import day_of_events
from tests.api.test_metrics import scrape, value
from tests.api.test_scaleout import pg_server
from tests.conftest import NOW_MS, Server, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ACCOUNTS = [f"affine-{i}" for i in range(7)]  # odd: round robin would alternate


def documented(language: str) -> str:
    """The code block of ``language`` in the section "Account-affine balancing"."""
    text = DEPLOY.read_text()
    section = text[text.index("### Account-affine balancing") :]
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def nginx(folder: Path, port: int, backends: list[Server]) -> subprocess.Popen[bytes]:
    body = documented("nginx")
    body = re.sub(r"listen \d+;", f"listen 127.0.0.1:{port};", body)
    for n, server in enumerate(backends, 11):
        body = body.replace(f"10.0.0.{n}:8080", f"127.0.0.1:{server.port}")
    conf = folder / "nginx.conf"
    conf.write_text(
        f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        # Bodies and answers kept in memory: no temporary files for nginx's own user.
        "events {}\nhttp {\naccess_log off;\nclient_body_buffer_size 16m;\n"
        f"proxy_buffering off;\n{body}\n}}\n"
    )
    return subprocess.Popen(["nginx", "-p", str(folder), "-c", str(conf)])


def haproxy(folder: Path, port: int, backends: list[Server]) -> subprocess.Popen[bytes]:
    body = documented("haproxy").replace("bind :8443", f"bind 127.0.0.1:{port}")
    for n, server in enumerate(backends, 11):
        body = body.replace(f"10.0.0.{n}:8080", f"127.0.0.1:{server.port}")
    conf = folder / "haproxy.cfg"
    conf.write_text(
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n"
        f"    timeout server 60s\n{body}\n"
    )
    return subprocess.Popen(["haproxy", "-db", "-f", str(conf)])


BALANCERS = {"nginx": nginx, "haproxy": haproxy}


@pytest.fixture(params=sorted(BALANCERS))
def balanced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[Server]]]:
    name: str = request.param
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = pg_server(tmp_path / "a").start()
    second = pg_server(tmp_path / "b", first.store_url).start()
    port = free_port()
    proc = BALANCERS[name](tmp_path, port, [first, second])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, f"{name} exited"
            time.sleep(0.1)
        yield url, [first, second]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        first.stop()
        second.stop()


def test_each_account_goes_to_one_process(balanced: tuple[str, list[Server]]) -> None:
    url, backends = balanced
    sent = {a: day_of_events(NOW_MS, i, 50, a) for i, a in enumerate(ACCOUNTS)}
    with httpx.Client(base_url=url, timeout=30) as client:
        for account, events in sent.items():
            response = client.post(f"/api/v1/accounts/{account}/events", json=events)
            assert response.status_code == 200, response.text
        for _ in range(3):
            for account, events in sent.items():
                params = {"v": "1", "timeframe": "1440"}
                got = client.get(f"/operations/api/account/{account}/engactivity", params=params)
                assert got.status_code == 200, got.text
                expected = oracle.expected_body(events, NOW_MS, {"timeframe": 1440})
                oracle.assert_same_body(got.json(), expected)
    loads = [value(scrape(s), "engactivity_memory_account_loads_total") for s in backends]
    resident = [value(scrape(s), "engactivity_memory_accounts_resident") for s in backends]
    # Round robin would load each account in both processes: 14 loads, not 7.
    assert sum(loads) == len(ACCOUNTS)
    assert sum(resident) == len(ACCOUNTS)
    assert all(resident)  # and the accounts are shared out between the two
