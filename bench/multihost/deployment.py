"""The whole deployment: databases, API hosts with their keys, and the balancer."""

from __future__ import annotations

import base64
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.multihost.apihost import ApiHost
from bench.multihost.clock import SharedClock
from bench.multihost.nginx import Nginx
from bench.multihost.postgres import Node, store_url
from bench.multihost.progress import say


@dataclass
class Deployment:
    folder: Path
    pg: list[Node] = field(default_factory=list)
    api: list[ApiHost] = field(default_factory=list)
    lb: Nginx | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    """Each account's bearer write key (the producers')."""
    readers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each account's OAuth 1.0a read key (the checks')."""
    primary: int = 0
    clock: SharedClock | None = None

    def build(self, accounts: list[str], memory_mb: int) -> None:
        self.pg = [Node("pg1", self.folder), Node("pg2", self.folder)]
        say("building: the primary (pg1)")
        self.pg[0].make_primary()
        say("building: its synchronous replica (pg2)")
        self.pg[1].make_replica_of(self.pg[0])
        url = store_url(self.pg)
        master_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.clock = SharedClock(self.folder / "clock")
        self.clock.run()
        env = {
            "ENGACTIVITY_MASTER_KEY": master_key,
            "ENGACTIVITY_FAKE_NOW_FILE": str(self.clock.path),
            "ENGACTIVITY_MEMORY_MB": str(memory_mb),
            "ENGACTIVITY_METRICS_TOKEN": secrets.token_urlsafe(24),
        }
        self.api = [ApiHost(h, url, env, "lb", self.folder) for h in ("api1", "api2")]
        say("building: the schema and the keys")
        self.api[0].run("migrate")
        with ThreadPoolExecutor(len(accounts)) as pool:  # a process start each: overlap them
            list(pool.map(self.add_keys, accounts))
        say("building: two API hosts and nginx")
        for host in self.api:
            host.start()
        self.lb = Nginx("lb", ["api1", "api2"], self.folder / "nginx")
        self.lb.start()

    def add_keys(self, account: str) -> None:
        # made on one host, used through both: the keys and the master key are shared
        host = self.api[0]
        made = host.run(
            "keys", "create", "--account", account, "--scope", "write", "--kind", "bearer"
        )
        self.tokens[account] = json.loads(made)["token"]
        self.readers[account] = json.loads(host.run("keys", "create", "--account", account))

    @property
    def url(self) -> str:
        assert self.lb is not None
        return self.lb.url

    def memory(self) -> dict[str, Any]:
        """Each host's memory figures, per process it ran (api1 ran twice), and the
        evictions of them all."""
        lives = {host.host: host.lives for host in self.api}
        evictions = sum(life.get("evictions", 0) for host in self.api for life in host.lives)
        return {"per_process": lives, "evictions": evictions}

    def tear_down(self) -> None:
        if self.lb is not None:
            self.lb.stop()
        for host in self.api:
            host.stop()
        for node in self.pg:
            if node.running():
                try:
                    node.stop()
                except RuntimeError:
                    node.stop("immediate")
