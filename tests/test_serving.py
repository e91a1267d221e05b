"""How connections are served: an idle keep-alive connection outlives a poll period."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Server
from tests.keepalive import reused_after


def test_a_connection_idle_for_a_poll_period_is_still_open(server: Server) -> None:
    # uvicorn's own keep-alive is 5 s: a wallboard polling every 5 s would race its close.
    assert reused_after(server.port, 6.0)


def test_keep_alive_s_closes_idle_connections(make_server: Callable[..., Server]) -> None:
    srv = make_server(["--keep-alive-s", "1"])
    assert reused_after(srv.port, 0.2)
    assert not reused_after(srv.port, 3.0)
