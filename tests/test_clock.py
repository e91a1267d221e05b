"""The clock the service reads: real, fixed, from a file, or started at an instant."""

from __future__ import annotations

import time
from pathlib import Path

from engactivity.clock import clock_from_env, system_clock


def test_the_real_clock_by_default() -> None:
    clock, warning = clock_from_env({})
    assert clock is system_clock and warning is None


def test_a_fixed_clock_and_a_file_clock(tmp_path: Path) -> None:
    clock, warning = clock_from_env({"ENGACTIVITY_FAKE_NOW_MS": "1000"})
    assert clock() == clock() == 1000 and warning is not None
    path = tmp_path / "now"
    path.write_text("5\n")
    clock, _ = clock_from_env({"ENGACTIVITY_FAKE_NOW_FILE": str(path)})
    assert clock() == 5
    path.write_text("7")
    assert clock() == 7


def test_a_started_clock_runs_on() -> None:
    clock, warning = clock_from_env({"ENGACTIVITY_FAKE_START_MS": "1000000"})
    first = clock()
    assert 1_000_000 <= first < 1_000_000 + 1000 and warning is not None
    time.sleep(0.02)
    assert clock() >= first + 15
