"""Giving freed memory back to the operating system.

The in-memory copy frees a lot at once: an evicted account's arrays, the rows a load
went through. glibc's malloc keeps freed heap for the process (only the top of the
main heap, and whole ``mmap`` blocks, go back by themselves), so without help the
resident size stays near the highest it has ever been, well above the cap
(docs/configuration.md, "Memory"). ``malloc_trim(0)`` returns every free page of
every arena. It costs a walk of the heap (milliseconds for hundreds of MiB), so the
mirror calls it once enough was freed, not after every change. On another C library
(musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim  # ctypes drops the GIL
    except (OSError, AttributeError):
        return None
    return trim


_trim = _load_trim()


class Heap:
    """Counts the bytes freed, and trims the heap each time they pass ``every`` bytes."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.trims = 0
        self._freed = 0
        self._lock = threading.Lock()

    def freed(self, nbytes: int) -> None:
        """Note ``nbytes`` freed; trim when enough was since the last trim (call it with
        no lock held: the trim takes a while)."""
        with self._lock:
            self._freed += nbytes
            if self._freed < self.every:
                return
            self._freed = 0
            self.trims += 1
        release()


def release() -> bool:
    """Return the free pages of the heap to the system (whether this C library can)."""
    if _trim is None:
        return False
    _trim(0)
    return True
