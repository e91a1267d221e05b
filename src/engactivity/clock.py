"""The one place the service reads the time.

Production uses the real UTC clock. Tests pin the time by giving the server
``ENGACTIVITY_FAKE_NOW_FILE`` (a file holding epoch milliseconds, re-read on every
call so a test can move time forward without restarting the server) or
``ENGACTIVITY_FAKE_NOW_MS`` (a fixed instant). ``ENGACTIVITY_FAKE_START_MS`` starts
the clock at an instant and lets it run (the benchmark's agent activity, whose
answers move with every millisecond, is measured that way too).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

Clock = Callable[[], int]
"""A clock returns the current time as integer epoch milliseconds (UTC)."""


def system_clock() -> int:
    return time.time_ns() // 1_000_000


def fixed_clock(now_ms: int) -> Clock:
    return lambda: now_ms


def file_clock(path: Path) -> Clock:
    def now() -> int:
        return int(path.read_text().strip())

    return now


def running_clock(start_ms: int) -> Clock:
    """A clock that reads ``start_ms`` now and runs on at the real pace."""
    began = time.monotonic_ns()
    return lambda: start_ms + (time.monotonic_ns() - began) // 1_000_000


def clock_from_env(env: Mapping[str, str] | None = None) -> tuple[Clock, str | None]:
    """Return the clock to use and, when it is not the real one, a warning to show."""
    env = os.environ if env is None else env
    if path := env.get("ENGACTIVITY_FAKE_NOW_FILE"):
        return file_clock(Path(path)), f"clock is read from {path} (test mode)"
    if value := env.get("ENGACTIVITY_FAKE_NOW_MS"):
        return fixed_clock(int(value)), f"clock is fixed at {value} ms (test mode)"
    if value := env.get("ENGACTIVITY_FAKE_START_MS"):
        return running_clock(int(value)), f"clock started at {value} ms (test mode)"
    return system_clock, None
