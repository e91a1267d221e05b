"""Starting, watching and stopping the server processes of a run."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from engactivity.settings import Settings


def keep_alive_args() -> list[str]:
    """The floor's and the peer's idle-connection timeout: engactivity's, so that all
    three are served alike (a slow peer leaves the benchmark's other connections idle
    for seconds, longer than uvicorn's default of 5, which then closes them)."""
    return ["--keep-alive-s", str(Settings().keep_alive_s)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerError(RuntimeError):
    pass


class Process:
    """One server process on 127.0.0.1, its output in ``log``; started by :meth:`start`."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.port = free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, health_path: str = "/healthz", timeout_s: float = 60) -> Process:
        self.proc = subprocess.Popen(
            [sys.executable, *self.args],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited at start-up:\n{self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", health_path)
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not become healthy:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_s(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def wait_idle(self, window_s: float = 0.25, limit_s: float = 120) -> float:
        """Until the process uses under a tenth of a CPU over ``window_s`` (it worked off
        what a load left queued; or, started on a loaded store, it swept its event ids
        and answers at its usual speed again), at most ``limit_s``: the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            before = self.cpu_s()
            time.sleep(window_s)
            if self.cpu_s() - before < window_s / 10:
                break
        return time.monotonic() - started

    def memory(self) -> dict[str, int]:
        """Resident set now and its peak (VmRSS, VmHWM), in bytes."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
        return out

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
