"""Agent activity's entries made again from earlier ones: equal to entries made afresh,
whatever the reasons' names hold."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.methods.agentactivity.render import Inputs, rendered, reused

AGENTS = np.array([3, 7, 9], np.int64)
seconds_rows = st.lists(st.integers(0, 90_000), min_size=12, max_size=12)
names = st.text(max_size=12) | st.sampled_from(['],"id":4,"name":"Away"', '{"reasons":[', "\\"])


@st.composite
def made(draw: st.DrawFn) -> Inputs:
    """Inputs of three agents, each with zero to two reasons of any name."""
    counts = draw(st.lists(st.integers(0, 2), min_size=3, max_size=3))
    rows = int(sum(counts))
    ids = [draw(names) for _ in range(rows)]
    return Inputs(
        AGENTS,
        np.array([draw(seconds_rows) for _ in AGENTS], np.int64),
        np.repeat(AGENTS, counts),
        np.array(ids, dtype=object),
        np.array([draw(seconds_rows)[:4] for _ in range(rows)], np.int64).reshape(rows, 4),
    )


def mixed(earlier: Inputs, other: Inputs, keep: list[bool]) -> Inputs:
    """``other``'s seconds, and per agent the reasons of ``earlier`` (``keep``) or of
    ``other``."""
    chosen = [(earlier if k else other, int(a)) for k, a in zip(keep, AGENTS, strict=True)]
    rows = [np.flatnonzero(src.reason_agents == agent) for src, agent in chosen]
    return Inputs(
        other.agents,
        other.values,
        np.concatenate([src.reason_agents[r] for (src, _), r in zip(chosen, rows, strict=True)]),
        np.concatenate([src.reason_ids[r] for (src, _), r in zip(chosen, rows, strict=True)]),
        np.concatenate([src.reason_values[r] for (src, _), r in zip(chosen, rows, strict=True)]),
    )


@settings(max_examples=300, deadline=None)
@given(made(), made(), st.lists(st.booleans(), min_size=3, max_size=3))
def test_entries_made_again_from_earlier_ones_equal_entries_made_afresh(
    earlier: Inputs, other: Inputs, keep: list[bool]
) -> None:
    # Agents that keep their earlier reasons (only their seconds may change: their
    # reasons' text is taken from their earlier entry) beside agents with new ones.
    now = mixed(earlier, other, keep)
    assert reused(now, earlier, rendered(earlier)) == rendered(now)
