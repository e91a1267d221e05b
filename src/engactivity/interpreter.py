"""How a serving process sets up the Python interpreter: garbage collection and the
switching of threads. Why, with measurements: docs/design.md, "Ingestion and the GIL".

Garbage collection. With the default thresholds a batch of 1,000 events (a few tuples
and lists per event, alive until the batch is stored) sets off several young
collections; what they find alive is promoted, so older collections follow, and a
full collection walks every object of the process while holding the GIL, stopping
the event loop and the writer alike. On the standard day collections took 4.6 s of a
25 s ingest. A batch's objects are freed by reference counting once it is stored, so
collections are only needed for reference cycles, which are rare here: they are made
rarer, and what start-up built is moved out of the collector's sight.

Thread switching. The store's writer thread gives up the GIL while SQLite works and
must win it back after every statement; while the event loop runs Python (decoding
the next batch), it waits until the loop is made to yield, after the switch interval.
A shorter interval bounds each of those waits.
"""

from __future__ import annotations

import gc
import sys

YOUNG_THRESHOLD = 50_000
"""Tracked objects allocated (net) before a young collection: more than a batch of
the largest size (10,000 events) leaves alive, so a batch alone never sets one off."""

SWITCH_INTERVAL_S = 0.0005
"""Longest time a thread runs Python before it must offer the GIL (default 5 ms)."""


def settle_after_startup() -> None:
    """Call once the process has opened its store and built its app, before serving."""
    gc.collect()
    # Everything alive now lives as long as the process: older collections skip it.
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
