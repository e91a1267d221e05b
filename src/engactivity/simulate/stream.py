"""The simulated events of an account as a stream, in delivery order, from any instant on."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import NamedTuple

from engactivity.simulate.config import CHAT_SPAN_MS, HOUR_MS, SimConfig
from engactivity.simulate.model import Event, QueueModel
from engactivity.simulate.staff import Staffing, build_layout


class Delivery(NamedTuple):
    """One event handed to the sink at ``at_ms`` (later than its time for a duplicate)."""

    at_ms: int
    seq: int
    event: Event
    duplicate: bool


class TrafficStream:
    """The simulated events delivered from ``start_ms`` on, in delivery order.

    Events with a time before ``start_ms`` are left out (and so are their duplicates);
    chats that began earlier but end later still contribute their later events. The
    model runs from the last nightly hand-over before any such chat began, so the events
    do not depend on ``start_ms`` (nor on how the stream is cut into windows).
    """

    def __init__(self, config: SimConfig, start_ms: int) -> None:
        self.config = config
        self.start_ms = start_ms
        self.position_ms = start_ms
        """Everything delivered before this instant has been taken."""
        self.layout = build_layout(config)
        self.staffing = Staffing(config, self.layout)
        begin = self.staffing.seam_before(start_ms - CHAT_SPAN_MS)
        self.model = QueueModel(config, self.layout, self.staffing, begin, start_ms)
        self._again: list[Delivery] = []
        """Second deliveries not yet due."""
        self._seq = 0

    def take_deliveries(self, end_ms: int) -> list[Delivery]:
        """Every delivery in ``[position_ms, end_ms)``, in order; moves the position."""
        if end_ms <= self.position_ms:
            return []
        return self._deliveries(*self._run(end_ms), end_ms)

    def take_until(self, end_ms: int) -> list[Event]:
        """The events delivered in ``[position_ms, end_ms)``, duplicates included."""
        if end_ms <= self.position_ms:
            return []
        events, lags = self._run(end_ms)
        if not self._again and max(lags, default=-1) < 0:  # each once, in time order
            self._seq += 2 * len(events)
            return events
        return [d.event for d in self._deliveries(events, lags, end_ms)]

    def _deliveries(self, events: list[Event], lags: list[int], end_ms: int) -> list[Delivery]:
        """``events`` (first deliveries), and the second deliveries due before ``end_ms``."""
        seq = self._seq
        self._seq += 2 * len(events)
        first: list[Delivery] = []
        for i, (event, lag) in enumerate(zip(events, lags, strict=True)):
            time_ms = event["time"]
            assert isinstance(time_ms, int)
            first.append(Delivery(time_ms, seq + 2 * i, event, False))
            if lag >= 0:
                again = Delivery(time_ms + lag, seq + 2 * i + 1, dict(event), True)
                heapq.heappush(self._again, again)
        due: list[Delivery] = []
        while self._again and self._again[0].at_ms < end_ms:
            due.append(heapq.heappop(self._again))
        return list(heapq.merge(first, due)) if due else first

    def _run(self, end_ms: int) -> tuple[list[Event], list[int]]:
        """The events of ``[position_ms, end_ms)`` in time order, with their lags."""
        model = self.model
        model.run_until(end_ms)
        events, lags = model.out, model.lags
        model.out, model.lags = [], []
        self.position_ms = end_ms
        return events, lags


def generate_events(
    config: SimConfig, start_ms: int, end_ms: int, chunk_ms: int = HOUR_MS
) -> Iterator[Event]:
    """The events delivered in ``[start_ms, end_ms)``, lazily, in delivery order.

    An event is delivered at its ``time``; a duplicate delivery comes a little later
    with the same fields, so it may carry a time before the window of its delivery.
    """
    stream = TrafficStream(config, start_ms)
    cursor = start_ms
    while cursor < end_ms:
        cursor = min(end_ms, cursor + chunk_ms)
        yield from stream.take_until(cursor)
