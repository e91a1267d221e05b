"""The scale benchmark (bench/scale.py): its pure parts, and its quick mode run for real.

The quick run (two steps of copies of the 1/100 day) ingests through a real server into a
fresh PostgreSQL database, so the harness cannot rot unnoticed; speed is not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench import scale_report
from bench.copies import copy_account, interleaved
from bench.scale import WARM_SHAPES
from bench.sections import AT_SCALE

from tests.conftest import new_pg_database

START, END = AT_SCALE.start, AT_SCALE.end
existing, splice = AT_SCALE.existing, AT_SCALE.splice

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("large", "small")


def test_copies_are_new_accounts_and_copy_0_is_the_day() -> None:
    assert copy_account("10000001", 0) == "10000001"
    assert copy_account("10000001", 3) == "310000001"
    assert copy_account("20000001", 19) == "1920000001"
    names = {copy_account(a, k) for a in ("10000001", "20000001") for k in range(20)}
    assert len(names) == 40
    with pytest.raises(ValueError):
        copy_account(str(10**8), 1)


def test_interleaved_sends_each_batch_for_every_copy_in_turn() -> None:
    bodies, accounts = interleaved([b"a", b"b"], ["1", "2"], 2, 2)
    assert bodies == [b"a", b"a", b"b", b"b"]
    assert accounts == ["200000001", "300000001", "200000002", "300000002"]
    assert bodies[0] is bodies[1]  # shared, not copied


def test_the_section_is_replaced_or_added_and_the_rest_kept(tmp_path: Path) -> None:
    section = f"{START}\n## At scale\nfigures\n{END}\n"
    added = splice("# Benchmarks\n\ntables\n", section)
    assert added == f"# Benchmarks\n\ntables\n\n{section}"
    again = splice(added + "\n## How to run\n", section.replace("figures", "new"))
    assert "new" in again and "figures" not in again and again.endswith("## How to run\n")
    report = tmp_path / "benchmarks.md"
    report.write_text(again)
    # What make bench does: a whole new report, the section of the old one kept.
    assert splice("# Benchmarks\n\nnew tables\n", existing(report)).count("## At scale") == 1
    assert existing(tmp_path / "missing.md") == ""
    assert splice("# Benchmarks\n", "") == "# Benchmarks\n"


def test_the_quick_scale_run(tmp_path: Path) -> None:
    store = new_pg_database()
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nthe main run's tables\n")
    command = ["-m", "bench.scale", "--quick", "--steps", "1,2", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, *command, "--store", store],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "events accepted" in done.stderr  # the ingest logs its progress
    results = json.loads((tmp_path / "benchmarks-scale.json").read_text())
    day = results["day"]
    assert [s["copies"] for s in results["steps"]] == [1, 2]
    for step, added in zip(results["steps"], (1, 1), strict=True):
        assert step["ingest"]["accepted"] == added * day["events"] == step["ingest"]["sent"]
        assert step["accounts"] == step["copies"] * day["accounts"]
        for server in step["servers"].values():
            cold = server["cold"]
            assert cold["large"]["accounts"] + cold["small"]["accounts"] == added * day["accounts"]
            assert all(p["VmRSS"] > 0 for p in server["rss"])
            assert set(server["warm"]) == {f"{s} {k}" for s in WARM_SHAPES for k in KINDS}
    capped = (
        "--memory-mb"
        in subprocess.run(
            [sys.executable, "-m", "engactivity", "serve", "--help"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    )
    assert ("cap" in results["steps"][0]["servers"]) == capped
    assert bool(results["skipped"]) != capped
    assert results["failures"] == []
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nthe main run's tables\n")
    assert "## At scale" in text
    assert f"| 2 | {2 * day['accounts']} | {2 * day['events']:,} |" in text
    assert (tmp_path / "benchmarks-scale.png").stat().st_size > 10_000


def test_a_run_stopped_in_a_step_says_so_and_a_finished_one_does_not() -> None:
    # The harness saves after each step: a run stopped in a long step keeps the others.
    stopped = {"steps_planned": [1, 5, 10, 20], "steps": [{}, {}, {}]}
    assert "**Stopped** after 3 of its 4 steps" in "".join(scale_report._stopped(stopped))
    assert scale_report._stopped({"steps_planned": [1, 2], "steps": [{}, {}]}) == []
