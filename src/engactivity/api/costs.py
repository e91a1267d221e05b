"""What each question's last computation cost: whether the next one may run on the loop.

A method's ``light`` says, before anything is measured, which questions are cheap
enough to answer on the event loop. Many that are not light by their shape are cheap
after a write all the same (their kept parts leave little to redo: a small account's
skills by agents, a few agents' activity), and for those the hop to a worker thread
and back costs more than the answer (docs/design.md, "After a write: the serving
path"). So the time of each question's last computation is kept, and a question
whose last one took less than :data:`INLINE_BELOW_S` is answered on the loop. A
question that grew costly (a late event, a span that moved on) is measured again when
it runs, and goes back to a thread the time after.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

INLINE_BELOW_S = 0.002
"""A computation this quick (wall time) runs on the event loop: about what the thread
hop costs (0.3 to 0.9 ms measured on a busy 2-CPU machine), and no longer than a light
answer already holds the loop."""

KEPT = 10_000
"""Questions whose cost is kept (least recently computed forgotten first)."""


class Costs:
    """The seconds of each question's last computation (bounded, thread-safe)."""

    def __init__(self, kept: int = KEPT, inline_below_s: float = INLINE_BELOW_S) -> None:
        self._kept = kept
        self.inline_below_s = inline_below_s
        self._seconds: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def cheap(self, question: Hashable) -> bool | None:
        """Whether its last computation was cheap enough for the loop; None: unknown."""
        seconds = self._seconds.get(question)
        return None if seconds is None else seconds < self.inline_below_s

    def note(self, question: Hashable, seconds: float) -> None:
        with self._lock:
            self._seconds[question] = seconds
            self._seconds.move_to_end(question)
            if len(self._seconds) > self._kept:
                self._seconds.popitem(last=False)
