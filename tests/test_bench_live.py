"""The live benchmark: its pure parts, and a short quick run end to end (so it cannot rot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.live_clients import freshness
from bench.sections import LIVE

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
    text = out.read_text()
    assert text.index("## Live: a contact center at its peak") < text.index("## Queries")
