"""The interpreter settings of a serving process (checked in a child process: they are
process-wide, and the test process must keep its own)."""

from __future__ import annotations

import subprocess
import sys

import orjson

from engactivity.interpreter import SWITCH_INTERVAL_S, YOUNG_THRESHOLD

_PROBE = """
import gc, sys, orjson
before = gc.get_threshold()
from engactivity.interpreter import settle_after_startup
settle_after_startup()
print(orjson.dumps({"before": before, "after": gc.get_threshold(),
                    "frozen": gc.get_freeze_count(),
                    "switch": sys.getswitchinterval()}).decode())
"""


def test_settling_freezes_start_up_and_makes_collections_and_waits_rarer() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    seen = orjson.loads(out)
    assert seen["after"] == [YOUNG_THRESHOLD, *seen["before"][1:]]
    assert seen["after"][0] > seen["before"][0]
    assert seen["frozen"] > 1000  # the imported modules at least
    assert seen["switch"] == SWITCH_INTERVAL_S < 0.005
