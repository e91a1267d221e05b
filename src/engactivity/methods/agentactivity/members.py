"""Which values are among a few others: ``np.isin`` for the small sets of live answers.

A write touches an agent or two, so the sets carried answers test against are tiny;
``np.isin`` sorts both arrays whatever their size (about 100 µs a call, a tenth of an
agent activity answer with the clock running). Comparing each value with each of a few
wanted is a few microseconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_FEW = 16
"""Up to this many wanted values are compared one by one (values x wanted at most)."""


def among(values: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """``np.isin(values, wanted)`` for 1-d integer arrays."""
    if len(wanted) > _FEW:
        return np.isin(values, wanted)
    if not len(wanted):
        return np.zeros(len(values), bool)
    found: npt.NDArray[np.bool_] = (values[:, None] == wanted[None, :]).any(axis=1)
    return found
