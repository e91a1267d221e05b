"""An API host: ``engactivity serve`` in its own namespace, on the shared database.

Every host gets the same store URL, the same master key (ENGACTIVITY_MASTER_KEY), so
any key made once works on both, the same clock file (ENGACTIVITY_FAKE_NOW_FILE,
bench/multihost/clock.py) the same memory cap (ENGACTIVITY_MEMORY_MB) and /metrics token. Started
as ``ip netns exec ... engactivity serve``, which execs: the process handle is the
server's own, and SIGKILL kills it as a crash would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.multihost.memory import memory_metrics
from bench.multihost.topology import address, inside

PORT = 8080


def engactivity(*args: str) -> list[str]:
    return [sys.executable, "-m", "engactivity", *args]


class ApiHost:
    def __init__(
        self, host: str, store_url: str, env: dict[str, str], proxy: str, folder: Path
    ) -> None:
        self.host = host
        self.url = f"http://{address(host)}:{PORT}"
        self.store_url = store_url
        self.env = {**os.environ, **env}
        self.proxy = proxy
        self.log = folder / f"{host}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.lives: list[dict[str, int]] = []
        """Per process started, its memory figures when last looked at (:meth:`observe`)."""

    def run(self, *args: str) -> str:
        """An ``engactivity`` command run on this host (keys, migrate); its output."""
        done = subprocess.run(
            inside(self.host, *engactivity(*args, "--store", self.store_url)),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.host}: engactivity {args[0]} failed: {done.stderr}")
        return done.stdout

    def start(self) -> None:
        serve = engactivity(
            "serve", "--host", address(self.host), "--port", str(PORT),
            "--store", self.store_url, "--forwarded-allow-ips", address(self.proxy),
        )  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                inside(self.host, *serve), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.lives.append({})
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.host} did not start: see {self.log}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def observe(self) -> None:
        """Note the memory figures of /metrics (a killed process's are lost with it)."""
        if self.process is not None:
            self.lives[-1] = memory_metrics(self.url, self.env["ENGACTIVITY_METRICS_TOKEN"])

    def kill(self) -> None:
        """SIGKILL: the host dies at once, with requests in flight (its memory figures
        are read just before)."""
        assert self.process is not None
        self.observe()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
