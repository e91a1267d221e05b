"""Loading events from an NDJSON file (``engactivity import``).

Every non-blank line is one event, sent in batches through a sink (the HTTP API or a
store, both with the API's ingestion). One bad line does not sink the batch it
travels in: the sink reports the bad events by their place in the batch, stores the
rest, and the importer reports each bad line (its number and why). Lines that are
not JSON never leave the importer. Event ids make the import idempotent: importing a
file again stores nothing new and reports every event as a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from engactivity.core.problems import Problem
from engactivity.sinks import RawEvent, Sink

DEFAULT_BATCH_SIZE = 1000
MAX_REJECTIONS_KEPT = 1000
"""Rejected lines remembered for the report; further ones are only counted."""


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str

    def as_json(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ImportSummary:
    lines: int = 0
    """Non-blank lines read."""
    sent: int = 0
    """Lines that were JSON, sent to the sink."""
    accepted: int = 0
    duplicates: int = 0
    expired: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    """The first rejected lines, in order."""

    def reject(self, line: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append(Rejection(line, reason))

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def as_json(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "sent": self.sent,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "expired": self.expired,
            "rejected": self.rejected,
            "rejections": [r.as_json() for r in self.rejections],
        }


def describe(problems: list[Problem]) -> str:
    return "; ".join(f"{p.message} (allowed: {p.allowed})" for p in problems)


def import_file(
    path: Path,
    sink: Sink,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Send the events of the NDJSON file ``path`` to ``sink``.

    ``on_progress`` is called with the number of bytes read since its previous call.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    summary = ImportSummary()
    batch: list[RawEvent] = []
    batch_lines: list[int] = []

    def flush() -> None:
        if not batch:
            return
        result = sink.send(batch)
        summary.sent += len(batch)
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        summary.expired += result.expired
        by_index: dict[int, list[Problem]] = {}
        for problem in result.problems:
            if problem.index is not None:
                by_index.setdefault(problem.index, []).append(problem)
        for index in sorted(by_index):
            summary.reject(batch_lines[index], describe(by_index[index]))
        batch.clear()
        batch_lines.clear()

    with path.open("rb") as source:
        for number, line in enumerate(source, start=1):
            if on_progress is not None:
                on_progress(len(line))
            if not line.strip():
                continue
            summary.lines += 1
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                summary.reject(number, f"not valid JSON: {exc}")
                continue
            batch.append(raw)
            batch_lines.append(number)
            if len(batch) >= batch_size:
                flush()
    flush()
    return summary
