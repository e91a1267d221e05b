"""Progress lines on standard error, with the seconds since the run began."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def say(what: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {what}", file=sys.stderr, flush=True)
