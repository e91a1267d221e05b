"""Each question's last computation cost, and whether the next one may run on the loop."""

from __future__ import annotations

from engactivity.api.costs import INLINE_BELOW_S, Costs


def test_a_question_never_computed_is_unknown() -> None:
    assert Costs().cheap(("engactivity", "acme", "q")) is None


def test_cheap_means_below_the_bound_and_the_last_measure_counts() -> None:
    costs = Costs()
    costs.note("q", INLINE_BELOW_S / 4)
    assert costs.cheap("q") is True
    costs.note("q", INLINE_BELOW_S)  # grew costly: back to a thread
    assert costs.cheap("q") is False
    costs.note("q", INLINE_BELOW_S / 2)
    assert costs.cheap("q") is True


def test_only_the_most_recently_computed_questions_are_kept() -> None:
    costs = Costs(kept=3)
    for name in ("a", "b", "c", "d"):
        costs.note(name, 0.0)
    assert costs.cheap("a") is None
    costs.note("b", 0.0)  # computed again: now the most recent
    costs.note("e", 0.0)
    assert costs.cheap("c") is None
    assert [costs.cheap(name) for name in ("b", "d", "e")] == [True, True, True]


def test_the_bound_may_be_given() -> None:
    costs = Costs(inline_below_s=0.5)
    costs.note("q", 0.4)
    assert costs.cheap("q") is True
    costs.note("q", 0.5)
    assert costs.cheap("q") is False
