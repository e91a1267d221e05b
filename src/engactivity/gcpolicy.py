"""How a serving process sets Python's cyclic garbage collector.

With the default thresholds a batch of 1,000 events (each a few tuples and lists that
live until the batch is stored) sets off several young collections; what they find
alive is promoted, so older collections follow, and a full collection walks every
object of the process while holding the GIL, stopping the event loop and the writer
alike. Measured on the standard day: 4.6 s of 25 s of ingest went to collections
(docs/design.md, "The garbage collector").

The objects of a batch are freed by reference counting as soon as it is stored, so
collections are only needed for reference cycles, which are rare here. Collections
are therefore made rarer, and what start-up built (modules, the store's loaded
rollups) is moved out of the collector's sight.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Tracked objects allocated (net) before a young collection: more than a batch of
the largest size (10,000 events) leaves alive, so a batch alone never sets one off."""


def settle_after_startup() -> None:
    """Call once the process has opened its store and built its app, before serving."""
    gc.collect()
    # Everything alive now lives as long as the process: older collections skip it.
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
