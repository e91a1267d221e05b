"""How connections are served: an idle keep-alive connection outlives a poll period."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable

from tests.conftest import Server


def _get(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/readyz")
    response = conn.getresponse()
    response.read()
    return response.status


def _reused_after(srv: Server, idle_s: float) -> bool:
    """Whether a second request, ``idle_s`` after the first, goes over the same
    connection (http.client never reconnects on its own: a closed one fails)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        assert _get(conn) == 200
        time.sleep(idle_s)
        try:
            return _get(conn) == 200
        except (http.client.RemoteDisconnected, ConnectionError):
            return False
    finally:
        conn.close()


def test_a_connection_idle_for_a_poll_period_is_still_open(server: Server) -> None:
    # uvicorn's own keep-alive is 5 s: a wallboard polling every 5 s would race its close.
    assert _reused_after(server, 6.0)


def test_keep_alive_s_closes_idle_connections(make_server: Callable[..., Server]) -> None:
    srv = make_server(["--keep-alive-s", "1"])
    assert _reused_after(srv, 0.2)
    assert not _reused_after(srv, 3.0)
