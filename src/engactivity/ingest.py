"""Ingestion: from a body of events to a stored batch, the one way in.

The HTTP route, ``engactivity import`` and ``engactivity simulate`` (and the demo) all
hand their batches to an :class:`Ingestor`: the same decoding, the same validation
(EVENTS.md, ``core/events.py``), the same limits, the same store. A batch is all or
nothing: any invalid event refuses it whole (``BatchRejected``, listing every problem
by index and field); one over the limits is refused before it is validated
(``BatchTooLarge``).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

from engactivity.clock import Clock
from engactivity.core.events import Event, decode_batch, decode_plain_batch, validate_batch
from engactivity.core.problems import Problem
from engactivity.store import IngestResult, Store

NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    }
)


@dataclass(frozen=True)
class Limits:
    max_events: int = 10_000
    max_bytes: int = 10 * 1024 * 1024

    def describe(self) -> str:
        return f"a batch may hold at most {self.max_events} events and {self.max_bytes} bytes"


class BatchTooLarge(Exception):
    """More events or bytes than the limits allow; nothing was stored."""


class BatchRejected(Exception):
    """Some events are invalid; nothing was stored."""

    def __init__(self, problems: list[Problem], events: int) -> None:
        super().__init__(problems[0].message)
        self.problems = problems
        self.events = events
        """Events in the batch (for the metrics)."""


def is_ndjson(content_type: str, body: bytes) -> bool:
    """Whether a body is NDJSON: by its media type, or for an unlabelled body, by its
    first character (a JSON array starts with ``[``)."""
    media = content_type.split(";")[0].strip().lower()
    return media in NDJSON_TYPES or (
        media != "application/json" and not body.lstrip().startswith(b"[")
    )


@dataclass(frozen=True)
class Accepted:
    events: list[Event]
    stored: Future[IngestResult]
    """Resolves once the batch is durable and visible."""


class Ingestor:
    def __init__(self, store: Store, clock: Clock, limits: Limits) -> None:
        self.store = store
        self.clock = clock
        self.limits = limits

    def decode(self, body: bytes, ndjson: bool, now_ms: int) -> list[Event]:
        """The events of a body; BatchTooLarge or BatchRejected when it has none to store."""
        if len(body) > self.limits.max_bytes:
            raise BatchTooLarge
        # Plain batches are decoded and checked in one step; anything else, including
        # every invalid batch, takes the full path, which explains what is wrong.
        events = None if ndjson else decode_plain_batch(body, now_ms)
        if events is not None:
            if len(events) > self.limits.max_events:
                raise BatchTooLarge
            return events
        items, problems = decode_batch(body, ndjson)
        if len(items) > self.limits.max_events:
            raise BatchTooLarge
        events, more = validate_batch(items, now_ms)
        problems += more
        if problems:
            problems.sort(key=lambda p: -1 if p.index is None else p.index)
            raise BatchRejected(problems, len(items))
        return events

    def accept(self, account_id: str, body: bytes, ndjson: bool = False) -> Accepted:
        """Decode, validate and submit one batch; the store's future says when it is stored."""
        now = self.clock()
        events = self.decode(body, ndjson, now)
        return Accepted(events, self.store.submit(account_id, events, now))
