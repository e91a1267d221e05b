"""``serve --workers``: forked workers stop when told to, even while they start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import free_port, new_pg_database


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie child of init is as good as gone.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" in status.read_text()


def test_workers_told_to_stop_while_starting_stop_at_once(tmp_path: Path) -> None:
    """Workers inherit the parent's SIGTERM handler, which only sets the parent's flag:
    without taking the default back, a worker stopped while it opens the store would
    ignore it and serve on until the parent kills it (after the shutdown timeout)."""
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "engactivity", "serve", "--port", str(free_port())]
    cmd += ["--store", new_pg_database(), "--workers", "2", "--shutdown-timeout", "30"]
    with log.open("ab") as out:
        parent = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "worker 1 started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        workers = [
            int(pid) for pid in re.findall(r"worker \d started \(pid (\d+)\)", log.read_text())
        ]
        assert len(workers) == 2, log.read_text()
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=10)  # not the 30 s of the shutdown timeout (and more)
        deadline = time.monotonic() + 5
        while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in workers)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
