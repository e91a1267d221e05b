"""The live benchmark: its pure parts, and a short quick run end to end (so it cannot rot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from bench.live_clients import (
    MARKER_AGENT,
    MARKER_SKILL,
    Record,
    freshness,
    marker_in,
    marker_value,
)
from bench.live_report import fresh
from bench.run import Query
from bench.sections import LIVE
from bench.stats import percentile

START, END = LIVE.start, LIVE.end
existing, splice = LIVE.existing, LIVE.splice

ROOT = Path(__file__).resolve().parent.parent
REPORT = "# Benchmarks\n\nIntro.\n\n## Queries\n\nTable.\n"


def test_splice_puts_the_section_before_queries_and_replaces_it() -> None:
    first = splice(REPORT, f"{START}\nold\n{END}\n")
    assert first.index("old") < first.index("## Queries")
    assert first.startswith("# Benchmarks\n\nIntro.\n\n")
    again = splice(first, f"{START}\nnew\n{END}\n")
    assert "old" not in again and again.count(START) == 1
    assert again.replace("new", "old") == first


def test_existing_reads_the_section_back(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    assert existing(path) == ""
    section = f"{START}\nfigures\n{END}\n"
    path.write_text(splice(REPORT, section))
    assert existing(path) == section
    # what bench.report does: a new whole file keeps the section
    assert existing(path) in splice(REPORT + "More.\n", existing(path))


def test_freshness_is_the_first_answer_showing_each_marker() -> None:
    acks = [10.0, 11.0, 12.0]
    answers = [(9.5, 0), (10.25, 1), (13.0, 3)]
    lags, missed = freshness(acks, answers)
    assert lags == [0.25, 2.0, 1.0]
    assert missed == 0
    assert freshness(acks, [(10.5, 1)]) == ([0.5], 2)


def test_freshness_is_also_told_per_question() -> None:
    rec = Record(acks=[10.0, 11.0])
    rec.answers = {
        "sub0:Q3": [(10.5, 1), (11.5, 2)],
        "sub19:Q3": [(10.25, 2)],
        "sub4:Q5": [(13.0, 2)],
        "poll0:Q3": [(20.0, 2)],
    }
    subscribers = fresh(rec, "sub")
    assert subscribers["clients"] == 3 and subscribers["samples"] == 6
    by_question = subscribers["p99_ms_by_question"]
    assert set(by_question) == {"Q3", "Q5"}
    assert by_question["Q5"] == pytest.approx(percentile([3.0, 2.0], 99) * 1000)
    assert by_question["Q3"] == pytest.approx(percentile([0.5, 0.5, 0.25, 0.0], 99) * 1000)


def _engactivity(connected: int | None, agent: bool) -> dict[str, object]:
    totals = {"connectedEngagements": 5}
    skills: dict[str, object] = {"3": {"metricsPerAgent": {}, "metricsTotals": totals}}
    if connected is not None:
        marker = {"metricsPerAgent": {}, "metricsTotals": {"connectedEngagements": connected}}
        skills[str(MARKER_SKILL)] = marker
    agents = {str(MARKER_AGENT): {"connectedEngagements": 99}} if agent else {}
    return {
        "skillsMetricsPerAgent": {"metricsPerSkill": skills, "metricsTotals": totals},
        "agentsMetrics": {"metricsPerAgent": agents, "metricsTotals": totals},
    }


def _queue(size: int | None, section: str) -> dict[str, object]:
    skills: dict[str, object] = {"3": {"currentQueueSize": 1}}
    if size is not None:
        skills[str(MARKER_SKILL)] = {"currentQueueSize": size}
    return {"metricsTotals": {"currentQueueSize": 1}, section: skills}


@pytest.mark.parametrize(
    ("method", "doc"),
    [
        ("engactivity", _engactivity(7, True)),
        ("engactivity", _engactivity(None, True)),  # the agent's key follows: not the skill
        ("engactivity", _engactivity(None, False)),
        # Intervals come first; the span's count is the last section's.
        ("engactivity", {"metricsByIntervals": [_engactivity(2, True)], **_engactivity(9, True)}),
        (
            "queuehealth",
            {"metricsByIntervals": [_queue(1, "skillsMetrics")]} | _queue(4, "skillsMetrics"),
        ),
        ("queuehealth", _queue(None, "skillsMetrics")),
        ("queuestate", _queue(12, "skills")),
        ("queuestate", _queue(None, "skills")),
    ],
)
def test_the_marker_is_read_from_its_entry_alone(method: str, doc: dict[str, object]) -> None:
    q = Query("M", "marked", "acct", "skillIds=all", method)
    assert marker_in(q, orjson.dumps(doc).decode()) == marker_value(q, doc)


def test_quick_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    args = ["--quick", "--seconds", "12", "--static-seconds", "4", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.live", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "benchmarks-live.json").read_text())
    live = results["live"]
    for side in ("live", "peer", "floor"):
        assert set(results[side]["latency"]) == {
            "engactivity",
            "queuehealth",
            "queuestate",
            "sla",
            "agentactivity",
        }
    assert live["polled"] == sum(m["answers"] for m in live["latency"].values()) > 0
    assert live["produced"] > 0 and live["markers"] > 0
    assert live["freshness"]["pollers"]["samples"] > 0
    if live["push"]:
        assert live["pushed"] > 0 and live["freshness"]["subscribers"]["samples"] > 0
        assert live["freshness"]["subscribers"]["p99_ms_by_question"]
    text = out.read_text()
    assert text.index("## Live: a contact center at its peak") < text.index("## Queries")


def test_failed_polls_are_counted_by_kind_across_processes() -> None:
    """A failed poll is named by its method and what failed (status or exception), so
    that a run's report says what went wrong, whichever wallboard process saw it."""
    one, two = Record(), Record()
    one.error_kinds["queuestate", "HTTP 429"] += 1
    two.error_kinds["queuestate", "HTTP 429"] += 1
    two.error_kinds["sla", "ReadTimeout"] += 1
    one.merge(two)
    assert one.errors == {"queuestate": 2, "sla": 1}
    assert one.error_kinds == {("queuestate", "HTTP 429"): 2, ("sla", "ReadTimeout"): 1}
