"""Id lists: the one-pass reading of a plain list gives what reading item by item gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.params import INT64_MAX, MAX_IDS, ids_of, parse_ids
from engactivity.core.problems import Problem

PIECES = st.sampled_from(
    [
        *("1", "42", "-7", "+3", "007", " ", "\t", "\n", "\x1c", ",", ", ", "x", "1.5"),
        *("0x1", "1e3", "\u00a0", "\u0661", "_", "", "0" * 39, "+-"),
    ]
)
NUMBERS = st.integers(min_value=-(2**64), max_value=2**64).map(str)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(PIECES, NUMBERS), max_size=12))
def test_a_list_reads_the_same_in_one_pass_as_item_by_item(pieces: list[str]) -> None:
    value = "".join(pieces)
    if not value.strip() or value.strip().lower() == "all":
        return
    assert parse_ids("agentIds", value) == ids_of("agentIds", value)


def test_the_one_pass_leaves_the_problems_to_the_items() -> None:
    too_many = ",".join(str(i) for i in range(MAX_IDS + 1))
    for value in (too_many, f"1, {INT64_MAX + 1}", "1,,2", "1, 2\u00a0"):
        found = parse_ids("agentIds", value)
        assert found == ids_of("agentIds", value)
    assert isinstance(parse_ids("agentIds", too_many), Problem)
    assert parse_ids("agentIds", " 1 ,\t2,3 ,1") == frozenset({1, 2, 3})
