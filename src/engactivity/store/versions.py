"""Version numbers of what the store keeps in memory: every change gives what changed a
new number, drawn from one counter for the whole process, so a version is never reused
(not even by a fresh copy loaded after a reload); answers are cached by it."""

from __future__ import annotations

import itertools

_versions = itertools.count(1)


def new_version() -> int:
    return next(_versions)
