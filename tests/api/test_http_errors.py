"""Errors the HTTP layer answers before the app, over real sockets: a URL over the
limit (414), malformed HTTP (400), a request cut off by the end of the shutdown grace
period (503). Each is the project's JSON error body; never uvicorn's plain text, never
a 500."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clients.tlshelp import TLSServer, new_authority
from tests.conftest import ENGINES, Server

MAX_URL_BYTES = 65_535


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


def exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` whole, read until the server closes: status, headers, body."""
    sock.sendall(request)
    return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    sock.settimeout(30)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_json_error(
    answer: tuple[int, dict[str, str], bytes], status: int, code: str
) -> dict[str, object]:
    got, headers, body = answer
    assert got == status, (got, headers, body)
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error: dict[str, object] = json.loads(body)
    assert error["error"] == code and error["message"]
    return error


def connect(srv: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port))


def get(target: bytes) -> bytes:
    """A GET that asks the server to close after answering (``exchange`` reads until it
    does; an idle keep-alive connection stays open for --keep-alive-s)."""
    return b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def test_a_url_over_the_limit_gets_414_json(server: Server) -> None:
    path = b"/operations/api/account/1234/engactivity?timeframe=60&v=1&skillIds="
    ids = b",".join(str(1_000_000 + i).encode() for i in range(9000))
    just_within = path + ids[: MAX_URL_BYTES - len(path)]
    with connect(server) as sock:
        # Within the limit the request reaches the app, which reads every id of it
        # (more than a list may hold).
        answer = exchange(sock, get(just_within))
    error = assert_json_error(answer, 400, "invalid_request")
    assert error["field"] == "skillIds" and "at most 5000" in str(error["message"])
    with connect(server) as sock:
        answer = exchange(sock, get(path + ids[: MAX_URL_BYTES + 1 - len(path)]))
    error = assert_json_error(answer, 414, "uri_too_long")
    assert error["max_bytes"] == MAX_URL_BYTES
    assert answer[1]["connection"] == "close"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n",
        b"POST /api/v1/accounts/1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
        b"\r\n\r\nzz\r\n",
        b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["request-line", "header", "content-length", "chunk-size", "nul-in-target"],
)
def test_malformed_http_gets_400_json(server: Server, request_bytes: bytes) -> None:
    with connect(server) as sock:
        answer = exchange(sock, request_bytes)
    assert_json_error(answer, 400, "malformed_request")
    # The process goes on serving.
    with connect(server) as sock:
        status, _, body = exchange(
            sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    assert status == 200, body


def test_over_tls_too(tmp_path: Path, store_engine: str) -> None:
    authority = new_authority(tmp_path)
    srv = TLSServer(tmp_path, authority, store_engine).start()
    try:
        context = authority.client_context()
        for request_bytes, status, code in (
            (get(b"/?" + b"a" * MAX_URL_BYTES), 414, "uri_too_long"),
            (b"GARBAGE\r\n\r\n", 400, "malformed_request"),
        ):
            with connect(srv) as raw, context.wrap_socket(raw, server_hostname="localhost") as sock:
                assert_json_error(exchange(sock, request_bytes), status, code)
    finally:
        srv.stop()


def test_a_body_still_arriving_when_the_grace_period_ends_gets_503(
    make_server: Callable[..., Server],
) -> None:
    """Two uploads stall half way (an event batch, and a form the authentication reads);
    SIGTERM; after --shutdown-timeout each gets 503 with Retry-After, not a 500, and
    the process exits cleanly."""
    srv = make_server(["--shutdown-timeout", "1"])
    uploads = {
        b"/api/v1/accounts/cut/events": (b"application/json", b'[{"eventId": "cut-1", "type"'),
        b"/operations/api/account/cut/engactivity": (
            b"application/x-www-form-urlencoded",
            b"timeframe=60&v=",
        ),
    }
    sockets = []
    for target, (content_type, part) in uploads.items():
        sock = connect(srv)
        sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\n%s"
            % (target, content_type, part)
        )
        sockets.append(sock)
    time.sleep(0.5)  # the requests are in the app, waiting for the rest of their bodies
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGTERM)
    for sock in sockets:
        with sock:
            answer = read_answer(sock)
        assert_json_error(answer, 503, "shutting_down")
        assert answer[1]["retry-after"] == "5"
        assert answer[1]["connection"] == "close"
    assert srv.proc.wait(timeout=30) == 0
    srv.proc = None
    log = srv.log_path.read_text()
    assert "Internal Server Error" not in log and "Traceback" not in log, log
    assert log.count("request cut off by the shutdown: 503") == 2
