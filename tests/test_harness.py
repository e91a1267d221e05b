"""The test harness's server (tests/conftest.py ``Server``): the parallel suites start
hundreds of servers, each on a port chosen free a moment before it binds it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.conftest import Server
from tests.ports import PORT_TAKEN


class _Anything(BaseHTTPRequestHandler):
    """Another test's server: 200 to every request, /readyz included."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _impostor() -> Iterator[int]:
    """A server of something else on a free port: its port."""
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Anything)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        yield other.server_address[1]
    finally:
        other.shutdown()
        other.server_close()


@contextmanager
def _started_beside_an_impostor(server: Server) -> Iterator[Server]:
    """``server`` started on a port another server holds; it must be up elsewhere, the
    base URL its own, and its readiness its own answer."""
    with _impostor() as taken:
        server.port, server.base_url = taken, f"http://127.0.0.1:{taken}"
        server.start()
        try:
            assert server.port != taken
            assert server.base_url == f"http://127.0.0.1:{server.port}"
            assert httpx.get(f"{server.base_url}/readyz", timeout=10).json()["status"] == "ready"
            yield server
        finally:
            server.stop()


def test_a_server_whose_port_was_taken_meanwhile_starts_on_another(tmp_path: Path) -> None:
    # The impostor answers /readyz too: the server is ready only when its own process
    # listens, and moves to another port when its bind fails.
    with _started_beside_an_impostor(Server(tmp_path, balanced=False)) as server:
        assert PORT_TAKEN in server.log_path.read_bytes()


def test_a_balancer_whose_port_was_taken_meanwhile_starts_on_another(tmp_path: Path) -> None:
    # The balanced topology's nginx (tests/balanced.py), on PostgreSQL: its backends
    # advertise the balancer's port, so they are started again with the new one.
    with _started_beside_an_impostor(Server(tmp_path, balanced=True)) as server:
        assert server.nginx is not None
        assert PORT_TAKEN in (server.nginx.folder / "stderr.log").read_bytes()
        path = "/api/account/acme/service/leDataReporting/baseURI.json?version=1.0"
        found = httpx.get(f"{server.base_url}{path}", timeout=10)
        assert found.json()["baseURI"] == f"127.0.0.1:{server.port}", found.text
