"""The API hosts' shared clock: a file both read (``ENGACTIVITY_FAKE_NOW_FILE``).

While producers send, a thread writes the real time into it every 20 ms, so the
service runs on (nearly) the real clock. For the checks it is frozen: every answer,
from either host, is then computed at one known instant, which the oracles are given
too, so the agent activity (which moves with every millisecond) and the current queue
state are compared exactly, not bracketed. The file is replaced whole (a rename), so
a host never reads half a number; it only ever moves forward.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


class SharedClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.now_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write(time.time_ns() // 1_000_000)

    def _write(self, now_ms: int) -> None:
        now_ms = max(now_ms, self.now_ms)
        spare = self.path.with_suffix(".new")
        spare.write_text(str(now_ms))
        os.replace(spare, self.path)
        self.now_ms = now_ms

    def run(self) -> None:
        """Follow the real time (until :meth:`freeze`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, name="clock", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while True:
            self._write(time.time_ns() // 1_000_000)
            if self._stop.wait(0.02):
                return

    def freeze(self) -> int:
        """Stop the clock; the instant it shows from now on."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        return self.now_ms
