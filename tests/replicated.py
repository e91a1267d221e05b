"""The balanced topology's database (``make test-balanced``, as root): a PostgreSQL
primary and its synchronous streaming replica on loopback, built as the scale test
builds them in its namespaces (bench/multihost/postgres.py). The suites' servers reach
them through a libpq multi-host URL with ``target_session_attrs=read-write``, the URL
a multi-host deployment gives (docs/deploy.md), so every commit they acknowledge waits
for the replica to flush it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.multihost.postgres import Node, store_url


@dataclass(frozen=True)
class Pair:
    url: str
    """Both servers, the one that takes writes first (the servers' and the tests')."""
    replica_url: str
    """The replica alone: what a commit acknowledged by the primary is already on."""


@contextmanager
def replicated() -> Iterator[Pair]:
    """A new primary and replica in a folder of their own; stopped and removed after."""
    folder = Path(tempfile.mkdtemp(prefix="engactivity-pg-pair-", dir="/tmp"))
    os.chmod(folder, 0o755)  # the postgres user makes its data folders inside
    primary_port, replica_port = _free_ports(2)
    primary = Node("primary", folder, loopback_port=primary_port)
    replica = Node("replica", folder, loopback_port=replica_port)
    try:
        primary.make_primary()
        replica.make_replica_of(primary)
        yield Pair(store_url([primary, replica]), store_url([replica], session="standby"))
    finally:
        for node in (replica, primary):
            if node.running():
                node.stop("immediate")  # nothing in them is kept
        shutil.rmtree(folder, ignore_errors=True)


def _free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, all different (held open together while chosen)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
