"""The report's sections written by other runs, which ``make bench`` keeps.

``benchmarks.md`` has several writers: :mod:`bench.report` writes the whole file, and
each other run (``bench.live``, ``bench.scale``, ``bench.push_freshness``) only its own
section, which lies between two markers. A section missing from the file goes before
its heading (``before``), or at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Section:
    name: str
    command: str
    before: str | None = None
    """The heading the section goes before when the file has none yet (None: the end)."""

    @property
    def start(self) -> str:
        return f"<!-- {self.name}:start (written by {self.command}; make bench keeps it) -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"

    def existing(self, path: Path) -> str:
        """The section of the report at ``path``, markers included ("" when none)."""
        text = path.read_text() if path.exists() else ""
        start, end = text.find(self.start), text.find(self.end)
        return text[start : end + len(self.end)] + "\n" if 0 <= start < end else ""

    def splice(self, text: str, section: str) -> str:
        """``text`` with this section replaced by ``section`` (placed when it has none)."""
        start, end = text.find(self.start), text.find(self.end)
        if 0 <= start < end:
            return text[:start] + section.rstrip("\n") + text[end + len(self.end) :]
        if not section:
            return text
        at = text.find(f"\n{self.before}\n") if self.before else -1
        if at < 0:
            return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
        return text[: at + 1] + section.rstrip("\n") + "\n\n" + text[at + 1 :]


LIVE = Section("live", "python -m bench.live", before="## Queries")
AT_SCALE = Section("at-scale", "python -m bench.scale")
PUSH = Section("push-freshness", "python -m bench.push_freshness", before="## How to run")
KEPT = (LIVE, PUSH, AT_SCALE)


def keep(path: Path, text: str) -> str:
    """``text`` (a new whole report) with every kept section of the report at ``path``."""
    kept = {section: section.existing(path) for section in KEPT}
    for section, found in kept.items():
        text = section.splice(text, found)
    return text
