"""The report's section written by ``python -m bench.scale``, kept by ``make bench``.

``benchmarks.md`` has two writers: :mod:`bench.report` writes the whole file, and
:mod:`bench.scale_report` only its "At scale" section, which lies between two markers.
"""

from __future__ import annotations

from pathlib import Path

START = "<!-- at-scale:start (written by python -m bench.scale; make bench keeps it) -->"
END = "<!-- at-scale:end -->"


def existing(path: Path) -> str:
    """The section of the report at ``path``, markers included ("" when none)."""
    text = path.read_text() if path.exists() else ""
    start, end = text.find(START), text.find(END)
    return text[start : end + len(END)] + "\n" if 0 <= start < end else ""


def splice(text: str, section: str) -> str:
    """``text`` with its section replaced by ``section`` (added at the end when none)."""
    start, end = text.find(START), text.find(END)
    if 0 <= start < end:
        return text[:start] + section.rstrip("\n") + text[end + len(END) :]
    if not section:
        return text
    return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
