"""The report's section written by ``python -m bench.live``, kept by ``make bench``.

``benchmarks.md`` has two writers: :mod:`bench.report` writes the whole file, and
:mod:`bench.live` only its "Live" section, which lies between two markers at the top
(after the title and introduction, before "## Queries").
"""

from __future__ import annotations

from pathlib import Path

START = "<!-- live:start (written by python -m bench.live; make bench keeps it) -->"
END = "<!-- live:end -->"
BEFORE = "\n## Queries"
"""The heading the section goes before when the file has none yet."""


def existing(path: Path) -> str:
    """The section of the report at ``path``, markers included ("" when none)."""
    text = path.read_text() if path.exists() else ""
    start, end = text.find(START), text.find(END)
    return text[start : end + len(END)] + "\n" if 0 <= start < end else ""


def splice(text: str, section: str) -> str:
    """``text`` with its section replaced by ``section``; when it has none, the section
    goes before "## Queries" (or at the end when that heading is missing too)."""
    start, end = text.find(START), text.find(END)
    if 0 <= start < end:
        return text[:start] + section.rstrip("\n") + text[end + len(END) :]
    if not section:
        return text
    at = text.find(BEFORE)
    if at < 0:
        return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    return text[: at + 1] + section.rstrip("\n") + "\n\n" + text[at + 1 :]
