"""Running a simulation into a sink (a backfill, then live batches), and the demo."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from engactivity.clock import Clock
from engactivity.core.events import decode_plain_batch
from engactivity.core.params import INT64_MAX
from engactivity.core.problems import Problem
from engactivity.ingest import Ingestor
from engactivity.methods.engactivity import ROLLUP
from engactivity.methods.engactivity.render import METRIC_KEYS
from engactivity.simulate.config import DAY_MS, HOUR_MS, MAX_BACKFILL_MS, MINUTE_MS, SimConfig
from engactivity.simulate.stream import Delivery, TrafficStream
from engactivity.sinks import BatchResult, Sink, StoreSink
from engactivity.store.tables import Deltas

Counters = tuple[int, ...]
"""The five engagement activity counters, in METRIC_KEYS order."""
ZERO: Counters = (0, 0, 0, 0, 0)

log = logging.getLogger(__name__)


def engagement_totals(events: list[dict[str, object]]) -> Counters:
    """The engagement activity counters valid events add up to, by the method's own fold."""
    decoded = decode_plain_batch(orjson.dumps(events), INT64_MAX)
    assert decoded is not None, "simulated events are plain and valid"
    rows: Deltas = {}
    ROLLUP.fold(decoded, rows)
    return tuple(sum(column) for column in zip(*rows.values(), strict=True)) or ZERO


def add(a: Counters, b: Counters) -> Counters:
    return tuple(x + y for x, y in zip(a, b, strict=True))


# -- running a simulation against a sink -------------------------------------------------


@dataclass
class SimulationReport:
    account: str
    seed: int
    start_ms: int
    end_ms: int = 0
    deliveries: int = 0
    accepted: int = 0
    duplicates: int = 0
    expired: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    totals: Counters = ZERO
    """The metrics of the events the sink accepted as new."""
    totals_exact: bool = True
    """False when a batch had only part of its new events accepted (the store already
    held some, or some expired): ``totals`` then leaves that batch out."""

    def as_json(self) -> dict[str, object]:
        return {
            "account": self.account,
            "seed": self.seed,
            "fromMs": self.start_ms,
            "toMs": self.end_ms,
            "delivered": self.deliveries,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "expired": self.expired,
            "rejected": self.rejected,
            "problems": [p.as_json() for p in self.problems[:100]],
            "metricsTotals": dict(zip(METRIC_KEYS, self.totals, strict=True)),
            "totalsExact": self.totals_exact,
        }


class Simulation:
    """Feeds a :class:`TrafficStream` into a sink: a backfill, then live batches."""

    def __init__(
        self,
        config: SimConfig,
        sink: Sink,
        clock: Clock,
        *,
        batch_size: int = 2000,
        backfill_ms: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.config = config
        self.sink = sink
        self.clock = clock
        self.batch_size = batch_size
        self.backfill_ms = min(max(0, backfill_ms), MAX_BACKFILL_MS)
        now = clock()
        self.stream = TrafficStream(config, now - self.backfill_ms)
        self.report = SimulationReport(config.account, config.seed, self.stream.start_ms, now)

    def _send(self, batch: list[Delivery]) -> None:
        result: BatchResult = self.sink.send([d.event for d in batch])
        report = self.report
        report.deliveries += len(batch)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.expired += result.expired
        report.rejected += result.rejected
        report.problems.extend(result.problems)
        bad = result.rejected_indexes
        fresh = [d for i, d in enumerate(batch) if not d.duplicate and i not in bad]
        if result.expired == 0 and result.accepted == len(fresh):
            if fresh:
                report.totals = add(report.totals, engagement_totals([d.event for d in fresh]))
        elif result.expired > 0 or result.accepted > 0:
            # Only some of the new events were taken: which ones is unknown.
            report.totals_exact = False

    def advance(self, end_ms: int, stop: threading.Event | None = None) -> int:
        """Send everything delivered before ``end_ms``, in batches; events sent."""
        sent = 0
        step = max(MINUTE_MS, min(HOUR_MS, end_ms - self.stream.position_ms))
        pending: list[Delivery] = []
        while self.stream.position_ms < end_ms:
            if stop is not None and stop.is_set():
                break
            pending.extend(self.stream.take_deliveries(min(end_ms, self.stream.position_ms + step)))
            while len(pending) >= self.batch_size:
                self._send(pending[: self.batch_size])
                sent += self.batch_size
                del pending[: self.batch_size]
        if pending:
            self._send(pending)
            sent += len(pending)
        self.report.end_ms = max(self.report.end_ms, self.stream.position_ms)
        return sent

    def backfill(self, stop: threading.Event | None = None) -> int:
        """Send the history up to now."""
        return self.advance(self.clock(), stop)

    def tick(self) -> int:
        """Send what happened since the last call; catches up at most one day."""
        now = self.clock()
        if now - self.stream.position_ms > MAX_BACKFILL_MS:
            self.stream = TrafficStream(self.config, now - MAX_BACKFILL_MS)
        return self.advance(now)

    def run_live(
        self,
        duration_s: float | None,
        stop: threading.Event | None = None,
        tick_s: float = 1.0,
        on_tick: Callable[[SimulationReport], None] | None = None,
    ) -> None:
        """Send live traffic every ``tick_s`` for ``duration_s`` (None: until stopped)."""
        stop = stop or threading.Event()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not stop.is_set():
            wait = tick_s
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            if stop.wait(wait):
                break
            self.tick()
            if on_tick is not None:
                on_tick(self.report)
        if deadline is not None and not stop.is_set():
            self.tick()


# -- the demo of ``serve --demo`` ---------------------------------------------------------

DEMO_CONFIG = SimConfig(account="demo", agents=100, skills=8, rate=12.0, seed=1)
DEMO_BATCH = 5000


class DemoHandle:
    """The running demo; :meth:`stop` ends it (waits briefly for the thread)."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self._stop = threading.Event()
        self.backfilled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engactivity-demo", daemon=True)

    def start(self) -> DemoHandle:
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        try:
            sent = self.simulation.backfill(self._stop)
            self.backfilled.set()
            log.info(
                "demo: %d events of history for account %r sent in %.1f s",
                sent,
                self.simulation.config.account,
                time.monotonic() - started,
            )
            self.simulation.run_live(None, self._stop)
        except Exception:
            if not self._stop.is_set():
                log.exception("demo traffic stopped")

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)


def start_demo(
    ingestor: Ingestor, config: SimConfig = DEMO_CONFIG, backfill_ms: int = DAY_MS
) -> DemoHandle:
    """Backfill a day of traffic for ``config.account``, then keep it live, in a thread."""
    sink = StoreSink(ingestor, config.account)
    simulation = Simulation(
        config, sink, ingestor.clock, batch_size=DEMO_BATCH, backfill_ms=backfill_ms
    )
    return DemoHandle(simulation).start()
