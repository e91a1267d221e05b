"""Putting the app on its sockets with uvicorn: the one way of serving.

The service binds the listening sockets (``bind``) before it forks any worker, and
every process then serves the app on them (``serve``) until SIGTERM or SIGINT:

- ``--port``, over TLS when ``--tls-cert``/``--tls-key`` are given (tls.py);
- ``--http-port``, plain HTTP beside it, when given;

with the project's HTTP protocol (api/protocol.py: JSON errors below the app, a
bounded URL) and ``X-Forwarded-Proto``/``X-Forwarded-For`` believed from
``--forwarded-allow-ips`` only.

It imports uvicorn (a tenth of a second): the service imports it once it serves.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from engactivity.api.protocol import HttpProtocol
from engactivity.interpreter import settle_after_startup
from engactivity.settings import Settings
from engactivity.tls import ServerTLS

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass
class Listeners:
    """The bound sockets; inherited by forked workers."""

    main: socket.socket
    """``--port``: TLS when ``tls`` is set."""
    tls: ServerTLS | None
    plain: socket.socket | None
    """``--http-port``: plain HTTP beside the TLS port."""

    def close(self) -> None:
        self.main.close()
        if self.plain is not None:
            self.plain.close()


def bind(settings: Settings, tls: ServerTLS | None) -> Listeners:
    """The listening sockets of ``settings``, inheritable by forked workers."""
    main = _bind(settings.host, settings.port, tls is not None)
    plain = None
    if settings.http_port is not None:
        try:
            plain = _bind(settings.host, settings.http_port, False)
        except BaseException:
            main.close()
            raise
    return Listeners(main, tls, plain)


def _bind(host: str, port: int, secure: bool) -> socket.socket:
    # uvicorn logs "Uvicorn running on ..." here; log_config=None keeps our log format.
    # The certificate named here only picks the word https in that line.
    config = uvicorn.Config(
        "engactivity:unused", host, port, log_config=None, ssl_certfile="tls" if secure else None
    )
    return config.bind_socket()


def serve(app: FastAPI, listeners: Listeners, settings: Settings) -> None:
    """Serve ``app`` on ``listeners`` until SIGTERM or SIGINT, letting the requests in
    flight finish (for at most ``shutdown_timeout`` seconds); then return, the caller
    closes.

    The one way of serving: the single process and every worker use it.
    """
    tls = listeners.tls
    config = uvicorn.Config(
        app,
        http=HttpProtocol,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        # Longer than a wallboard's poll period: at uvicorn's 5 s, a client polling every
        # 5 s sends its request just as the server closes the connection (a failed poll).
        timeout_keep_alive=settings.keep_alive_s,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ssl_context_factory=None if tls is None else lambda config, default: tls.context,
    )
    settle_after_startup()
    # uvicorn drains on SIGTERM, then raises the signal again once it has stopped;
    # with the default handler that would end the process before the store is closed.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _Server(config, listeners.plain).run(sockets=[listeners.main])
    except (_Terminated, KeyboardInterrupt):
        pass  # stopped as asked: exit status 0 once the caller has closed the store
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Server(uvicorn.Server):
    """uvicorn's server, with the plain ``--http-port`` listener beside the TLS one.

    uvicorn serves every socket it is given with the same TLS setting; the plain one
    is added here after its own, on the same protocol, connections and shutdown.
    """

    def __init__(self, config: uvicorn.Config, plain: socket.socket | None) -> None:
        super().__init__(config)
        self.plain = plain

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.plain is None or self.should_exit:
            return
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        server = await loop.create_server(protocol, sock=self.plain, backlog=config.backlog)
        self.servers.append(server)


class _Terminated(Exception):
    """SIGTERM arrived: stop as after a normal shutdown (exit status 0)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated
