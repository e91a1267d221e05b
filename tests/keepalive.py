"""Whether a server keeps an idle keep-alive connection open (for engactivity's own
setting and for the benchmark's floor, served alike)."""

from __future__ import annotations

import http.client
import time


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response.status


def reused_after(port: int, idle_s: float, path: str = "/readyz") -> bool:
    """Whether a second request, ``idle_s`` after the first, goes over the same
    connection (http.client never reconnects on its own: a closed one fails)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        assert _get(conn, path) == 200
        time.sleep(idle_s)
        try:
            return _get(conn, path) == 200
        except (http.client.RemoteDisconnected, ConnectionError):
            return False
    finally:
        conn.close()
