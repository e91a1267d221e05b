"""Client errors as data: what was wrong, where, and what is allowed.

The pure core raises these; the HTTP layer turns them into 400 JSON bodies.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    """The parameter or event field at fault (``body`` for the request as a whole)."""
    message: str
    allowed: str
    index: int | None = None
    """Position of the event in an ingested batch; None for query parameters."""

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.index is not None:
            out["index"] = self.index
        out["field"] = self.field
        out["message"] = self.message
        out["allowed"] = self.allowed
        return out


class InvalidRequest(Exception):
    """One or more problems make a request invalid; nothing was done."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
