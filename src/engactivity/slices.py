"""Column-wise aggregates that answers are rendered from.

A Slice holds the summed counters of one interval (or of the whole span) for each
(skill, agent) pair that had selected events there, as parallel numpy arrays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Slice:
    skills: Int64s
    """Skill id of each row."""
    agents: Int64s
    """Agent id of each row (0 where ``has_agent`` is False)."""
    has_agent: Bools
    sums: Int64s
    """Shape (rows, 5): the five counters of each row, in METRIC_KEYS order."""
    known_totals: list[int] | None = None
    """The column sums when already known (answers without filters carry only these)."""

    @property
    def totals(self) -> list[int]:
        if self.known_totals is not None:
            return self.known_totals
        return [int(v) for v in self.sums.sum(axis=0)] if len(self.sums) else [0] * 5


_NO_IDS = np.zeros(0, np.int64)
_NO_FLAGS = np.zeros(0, np.bool_)
_NO_SUMS = np.zeros((0, 5), np.int64)


def totals_only(totals: list[int]) -> Slice:
    """A Slice that carries just account totals: what an answer without filters needs."""
    return Slice(_NO_IDS, _NO_IDS, _NO_FLAGS, _NO_SUMS, totals)


def empty_slice() -> Slice:
    return Slice(
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.bool_),
        np.zeros((0, 5), np.int64),
    )


def slice_from_rows(rows: Iterable[tuple[int, int | None, tuple[int, ...]]]) -> Slice:
    """A Slice from (skill, agent or None, counters) rows, summing repeated pairs."""
    summed: dict[tuple[int, int | None], list[int]] = {}
    for skill, agent, counters in rows:
        acc = summed.setdefault((skill, agent), [0, 0, 0, 0, 0])
        for i, value in enumerate(counters):
            acc[i] += value
    if not summed:
        return empty_slice()
    keys = list(summed)
    return Slice(
        np.array([skill for skill, _ in keys], np.int64),
        np.array([0 if agent is None else agent for _, agent in keys], np.int64),
        np.array([agent is not None for _, agent in keys], np.bool_),
        np.array([summed[key] for key in keys], np.int64).reshape(-1, 5),
    )
