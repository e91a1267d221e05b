"""The sections other runs write into benchmarks.md survive make bench's rewrite."""

from __future__ import annotations

from pathlib import Path

from bench.sections import AT_SCALE, KEPT, LIVE, PUSH, keep

WHOLE = "# Benchmarks\n\nintro\n\n## Queries\n\nq\n\n## How to run\n\nrun\n"


def _section(name: str, start: str, end: str) -> str:
    return f"{start}\n## {name}\nfigures of {name}\n{end}\n"


def test_every_kept_section_survives_a_rewrite_in_its_place(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    text = WHOLE
    for section in KEPT:
        text = section.splice(text, _section(section.name, section.start, section.end))
    report.write_text(text)
    rewritten = keep(report, WHOLE.replace("q\n", "new q\n"))
    assert "new q" in rewritten
    for section in KEPT:
        assert rewritten.count(f"figures of {section.name}") == 1
    assert rewritten.index(LIVE.start) < rewritten.index("## Queries")
    assert rewritten.index(PUSH.start) < rewritten.index("## How to run")
    assert rewritten.index(AT_SCALE.start) > rewritten.index("## How to run")


def test_a_report_without_sections_is_left_as_it_is(tmp_path: Path) -> None:
    assert keep(tmp_path / "missing.md", WHOLE) == WHOLE
