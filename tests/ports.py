"""Loopback ports for the test servers. A port found free is only free until something
binds it, and the parallel suites start hundreds of servers: a server is known to be
up once its own process listens on its port, not when something answers there."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` or one of its children (workers) listens on ``port``."""
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port
            for process in processes
            for c in process.net_connections(kind="tcp")
        )
    except psutil.Error:  # exited meanwhile: the caller sees it
        return False


PORT_TAKEN = b"Address already in use"
"""What uvicorn and nginx log when their port was taken first."""


def log_size(log: Path) -> int:
    """Where a process about to be started will begin writing to ``log`` (appended)."""
    return log.stat().st_size if log.exists() else 0


def port_was_taken(log: Path, since: int) -> bool:
    """Whether what was written to ``log`` from ``since`` on says the port was taken."""
    with log.open("rb") as written:
        written.seek(since)
        return PORT_TAKEN in written.read()
