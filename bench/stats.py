"""Percentiles as the benchmark reports them (nearest rank)."""

from __future__ import annotations

import math


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]
