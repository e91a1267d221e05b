"""``serve --tls-cert --tls-key``: one process answering https:// (and plain http on
``--http-port``), certificates made at test time; clear refusals of bad files at
start-up; ``X-Forwarded-Proto`` believed from trusted proxies only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import trustme
from cryptography.hazmat.primitives import serialization

from tests.auth.keyhelp import create_key, oauth1
from tests.clients.tlshelp import TLSServer, new_authority
from tests.conftest import Server, free_port

ACCOUNT = "1234"


@pytest.fixture
def tls_server(tmp_path: Path) -> Any:
    authority = new_authority(tmp_path)
    srv = TLSServer(tmp_path, authority).start()
    yield srv, authority
    srv.stop()


def test_one_process_serves_https_and_plain_http(tls_server: Any) -> None:
    srv, authority = tls_server
    ca = str(authority.ca_file)
    assert requests.get(f"{srv.base_url}/healthz", verify=ca, timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{srv.plain_url}/healthz", timeout=10).json() == {"status": "ok"}
    # A client that does not trust the CA refuses the server; plain HTTP gets no answer
    # on the TLS port.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{srv.base_url}/healthz", timeout=10)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{srv.port}/healthz", timeout=10)


def test_signatures_cover_the_scheme(tls_server: Any) -> None:
    srv, authority = tls_server
    key = create_key(srv.store_url, ACCOUNT, "read")
    ca = str(authority.ca_file)
    path = f"/operations/api/account/{ACCOUNT}/engactivity?timeframe=60&v=1"
    over_tls = requests.get(srv.base_url + path, auth=oauth1(key), verify=ca, timeout=10)
    assert over_tls.status_code == 200, over_tls.text
    plain = requests.get(srv.plain_url + path, auth=oauth1(key), timeout=10)
    assert plain.status_code == 200, plain.text
    assert plain.json() == over_tls.json()
    # Signed for http:// but sent over https: another base string.
    signed = requests.Request("GET", f"http://127.0.0.1:{srv.port}{path}", auth=oauth1(key))
    prepared = signed.prepare()
    prepared.url = srv.base_url + path
    replayed = requests.Session().send(prepared, verify=ca, timeout=10)
    assert replayed.status_code == 401, replayed.text


def test_x_forwarded_proto_is_believed_from_trusted_proxies_only(
    make_server: Any, tmp_path: Path
) -> None:
    """A proxy ends TLS and passes the request on over http: the client signed
    https://<public name>/..., and the service rebuilds that URL from the Host header
    and X-Forwarded-Proto (from the proxy's address only)."""
    trusting: Server = make_server()  # trusts loopback (the default)
    distrusting: Server = make_server(["--forwarded-allow-ips", "192.0.2.1"])
    public = "https://metrics.example.com/operations/api/account/1234/engactivity?timeframe=60&v=1"
    for srv, status in ((trusting, 200), (distrusting, 401)):
        key = create_key(srv.store_url, ACCOUNT, "read")
        prepared = requests.Request("GET", public, auth=oauth1(key)).prepare()
        headers = {
            **prepared.headers,
            "Host": "metrics.example.com",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9",
        }
        path = public.removeprefix("https://metrics.example.com")
        r = httpx.get(srv.base_url + path, headers=headers, timeout=10)
        assert r.status_code == status, r.text


def serve_refused(tmp_path: Path, *args: str) -> str:
    """``engactivity serve`` with ``args``: it must stop at once with status 2."""
    store = f"sqlite:///{tmp_path}/refused.db"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engactivity",
            "serve",
            "--port",
            str(free_port()),
            "--store",
            store,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    return " ".join((done.stdout + done.stderr).split())


def test_bad_certificate_files_stop_the_start_with_a_clear_message(tmp_path: Path) -> None:
    authority = new_authority(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, key = authority.issue(tmp_path / "a", "localhost")
    _, other_key = authority.issue(tmp_path / "b", "localhost")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    locked = tmp_path / "locked.key"
    leaf = trustme.CA().issue_cert("localhost")
    private = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    locked.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases = {
        "cannot read --tls-cert": ["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(key)],
        "cannot read --tls-key": ["--tls-cert", str(cert), "--tls-key", str(tmp_path / "none.key")],
        "holds no PEM certificate": ["--tls-cert", str(junk), "--tls-key", str(key)],
        "holds no PEM private key": ["--tls-cert", str(cert), "--tls-key", str(junk)],
        "does not belong to the certificate": [
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(other_key),
        ],
        "is encrypted": ["--tls-cert", str(cert), "--tls-key", str(locked)],
        "--tls-cert and --tls-key go together": ["--tls-cert", str(cert)],
        "--http-port is a plain port next to the TLS one": ["--http-port", str(free_port())],
    }
    for expected, args in cases.items():
        message = serve_refused(tmp_path, *args)
        assert expected in message, message


def test_tls_settings_come_from_the_config_file_and_the_environment(tmp_path: Path) -> None:
    authority = new_authority(tmp_path)
    cert, key = authority.issue(tmp_path, "localhost")
    config = tmp_path / "engactivity.toml"
    config.write_text(f'tls-cert = "{cert}"\ntls-key = "{key}"\nhttp-port = 8081\n')
    done = subprocess.run(
        [sys.executable, "-m", "engactivity", "config", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ENGACTIVITY_FORWARDED_ALLOW_IPS": "10.0.0.0/8"},
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line}
    assert rows["--tls-cert"][0] == str(cert) and rows["--tls-cert"][1] == "file"
    assert rows["--http-port"][0] == "8081"
    assert rows["--forwarded-allow-ips"][:2] == ["10.0.0.0/8", "environment"]


def test_an_idle_tls_connection_does_not_hold_up_the_shutdown(tls_server: Any) -> None:
    """A client keeps its connection in its pool: the stop does not wait for it (the
    grace period is 10 s; a polite TLS close would wait for the client's goodbye)."""
    srv, authority = tls_server
    session = requests.Session()
    assert session.get(f"{srv.base_url}/healthz", verify=str(authority.ca_file)).ok
    assert session.get(f"{srv.plain_url}/healthz").ok
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 5
    assert "timeout graceful shutdown exceeded" not in srv.log_path.read_text()
    session.close()
