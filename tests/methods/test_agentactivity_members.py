"""agentactivity/members.py: ``among`` is ``np.isin``, for few wanted values and many."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engactivity.methods.agentactivity.members import among

_ids = st.lists(st.integers(-(2**40), 2**40) | st.integers(0, 40), max_size=60).map(
    lambda ids: np.array(ids, np.int64)
)


@given(_ids, _ids)
def test_among_is_isin(values: np.ndarray, wanted: np.ndarray) -> None:
    found = among(values, wanted)
    assert found.dtype == bool and found.shape == values.shape
    assert np.array_equal(found, np.isin(values, wanted))
