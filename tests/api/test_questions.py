"""Parsed questions kept under their raw text (api/questions.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engactivity.api.questions import MAX_RAW_BYTES, Questions
from engactivity.core.problems import InvalidRequest
from engactivity.methods.agentactivity import AGENTACTIVITY
from engactivity.methods.engactivity import ENGACTIVITY


def reader(params: dict[str, object], calls: list[int]) -> Callable[[], dict[str, object]]:
    def read() -> dict[str, object]:
        calls.append(1)
        return dict(params)

    return read


def test_the_same_raw_question_is_parsed_once_and_handed_out_again() -> None:
    questions, calls = Questions(), list[int]()
    raw = (b"v=1&timeframe=60", b"", "")
    first = questions.parsed(ENGACTIVITY, raw, reader({"v": "1", "timeframe": "60"}, calls))
    again = questions.parsed(ENGACTIVITY, raw, reader({"v": "1", "timeframe": "60"}, calls))
    assert again is first and len(calls) == 1
    assert first == ENGACTIVITY.parse({"v": "1", "timeframe": "60"})
    # Another method, or another body, is another question.
    other = questions.parsed(
        AGENTACTIVITY, raw, reader({"v": "1", "agentIds": "all", "timeframe": "60"}, calls)
    )
    assert other is not first and len(calls) == 2
    posted = (b"v=1&timeframe=60", b'{"timeframe": "30"}', "application/json")
    by_post = questions.parsed(ENGACTIVITY, posted, reader({"v": "1", "timeframe": "30"}, calls))
    assert by_post != first and len(calls) == 3


def test_a_question_that_does_not_parse_is_not_kept() -> None:
    questions, calls = Questions(), list[int]()
    raw = (b"v=1&timeframe=0", b"", "")
    for _ in range(2):
        with pytest.raises(InvalidRequest):
            questions.parsed(ENGACTIVITY, raw, reader({"v": "1", "timeframe": "0"}, calls))
    assert len(calls) == 2


def test_large_requests_are_parsed_each_time_and_the_kept_ones_are_bounded() -> None:
    questions, calls = Questions(kept=2), list[int]()
    ids = ",".join(str(i) for i in range(1000, 5000))
    big = (f"v=1&agentIds={ids}".encode(), b"", "")
    assert len(big[0]) > MAX_RAW_BYTES
    for _ in range(2):
        questions.parsed(
            AGENTACTIVITY, big, reader({"v": "1", "agentIds": ids, "timeframe": "60"}, calls)
        )
    assert len(calls) == 2
    for timeframe in ("10", "20", "30", "10"):
        raw = (f"v=1&timeframe={timeframe}".encode(), b"", "")
        questions.parsed(ENGACTIVITY, raw, reader({"v": "1", "timeframe": timeframe}, calls))
    # 10, 20, 30 parsed; 10 was forgotten when 30 came (two kept), so parsed again.
    assert len(calls) == 2 + 4
