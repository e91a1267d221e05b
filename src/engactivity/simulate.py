"""Synthetic engagement traffic for one account: history, live feed, and the demo.

The model, minute by minute (all times UTC unless ``utc_offset_hours`` moves the day):

- New chats arrive as a Poisson process whose rate follows a daily curve: quiet at
  night (about a quarter of the daily average), two humps in business hours (over
  twice the average from 10:00 to 11:30 and around 15:00), a small evening bump. ``rate`` is the
  average number of new chats per minute *over a whole day*, so a day holds about
  ``rate * 1440`` chats.
- Skills have Zipf-like popularity (skill 1 the busiest). Every agent serves 1 to 4
  skills; a chat picks a skill, then one of the agents serving it.
- A chat waits in the queue (lognormal, median 15 s), then an agent takes it: a
  ``connected`` event. It ends with a ``closed`` event on the same skill and agent,
  ``handlingTime`` later. Interactive chats take a lognormal time with median 7 min
  (mean about 8 min, long right tail, capped at 2 h); non-interactive ones (the
  customer never wrote back) median 75 s.
- Abandoned chats never reach an agent: a single ``closed`` event, non-interactive,
  no ``agentId``, ``handlingTime`` 0, sent when the customer gives up (lognormal,
  median 45 s). One in ten of them has no skill either (skill -1).
- Each event is delivered a second time, same ``eventId``, with probability
  ``duplicate_share``, between half a second and two minutes after the first time.

Everything is drawn from a random generator seeded by ``(seed, minute)``: the same
seed always gives the same events for the same minutes, however the time range is
cut into windows. That makes backfill and live mode one code path and re-running a
simulation idempotent (the second run's events are all duplicates).
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from engactivity.clock import Clock
from engactivity.core.events import decode_plain_batch
from engactivity.core.params import INT64_MAX
from engactivity.core.problems import Problem
from engactivity.ingest import Ingestor
from engactivity.methods.engactivity import ROLLUP
from engactivity.methods.engactivity.render import METRIC_KEYS
from engactivity.sinks import BatchResult, Sink, StoreSink
from engactivity.store.tables import Deltas

Counters = tuple[int, ...]
"""The five engagement activity counters, in METRIC_KEYS order."""
ZERO: Counters = (0, 0, 0, 0, 0)

log = logging.getLogger(__name__)

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
SLOT_MS = MINUTE_MS
"""Arrivals are drawn one minute at a time."""

MAX_BACKFILL_MS = DAY_MS
"""History older than this could be purged by the store (retention is 24 h 10 min)."""

FIRST_AGENT_ID = 1001
"""Agents are numbered from here; skills from 1."""

# Distributions (seconds): (median, sigma of the log, lower cap, upper cap).
QUEUE_WAIT_S = (15.0, 0.9, 1, 600)
ABANDON_WAIT_S = (45.0, 0.8, 5, 1200)
INTERACTIVE_HANDLING_S = (420.0, 0.55, 20, 7200)
NON_INTERACTIVE_HANDLING_S = (75.0, 0.7, 5, 1800)
NO_SKILL_SHARE_OF_ABANDONED = 0.1
DUPLICATE_LAG_MS = (500, 120_000)

_LOOKBACK_MS = (max(QUEUE_WAIT_S[3], ABANDON_WAIT_S[3]) + INTERACTIVE_HANDLING_S[3] + 1) * 1000
"""The longest a chat can last: a window must look back this far for chats still open."""


def _daily_shape(hour: float) -> float:
    """Relative traffic at ``hour`` (0..24) of the local day, before normalisation."""
    return (
        0.12
        + 1.0 * math.exp(-(((hour - 10.5) / 2.2) ** 2))
        + 0.9 * math.exp(-(((hour - 15.0) / 2.4) ** 2))
        + 0.25 * math.exp(-(((hour - 20.0) / 1.5) ** 2))
    )


_SLOTS_PER_DAY = DAY_MS // SLOT_MS
_SHAPE_MEAN = sum(_daily_shape((m + 0.5) * 24 / _SLOTS_PER_DAY) for m in range(_SLOTS_PER_DAY)) / (
    _SLOTS_PER_DAY
)


def daily_factor(time_ms: int, utc_offset_hours: float = 0.0) -> float:
    """How busy ``time_ms`` is relative to the day's average (the day averages 1.0)."""
    local_ms = time_ms + round(utc_offset_hours * HOUR_MS)
    hour = (local_ms % DAY_MS) / HOUR_MS
    return _daily_shape(hour) / _SHAPE_MEAN


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Shares are probabilities per chat (or per event, duplicates)."""

    account: str = "demo"
    agents: int = 40
    skills: int = 8
    rate: float = 10.0
    """Average new chats per minute over a whole day; the daily curve spreads them."""
    seed: int = 1
    duplicate_share: float = 0.02
    """Chance that an event is delivered twice (same eventId)."""
    abandon_share: float = 0.08
    """Chats that close without reaching an agent."""
    non_interactive_share: float = 0.12
    """Chats that reach an agent but never become interactive."""
    utc_offset_hours: float = 0.0
    """Where the business day lies: 0 puts the peaks at 10:30 and 15:00 UTC."""

    def __post_init__(self) -> None:
        if self.agents < 1 or self.skills < 1:
            raise ValueError("a simulation needs at least one agent and one skill")
        if not 0 <= self.rate <= 100_000:
            raise ValueError("rate must be between 0 and 100000 chats per minute")
        for name in ("duplicate_share", "abandon_share", "non_interactive_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.abandon_share + self.non_interactive_share > 1.0:
            raise ValueError("abandon_share + non_interactive_share must not exceed 1")


@dataclass(frozen=True)
class Layout:
    """Who serves what: derived from the config's seed alone."""

    skill_ids: list[int]
    skill_cum_weights: list[float]
    skills_by_agent: dict[int, list[int]]
    agents_by_skill: dict[int, list[int]]


def build_layout(config: SimConfig) -> Layout:
    rng = random.Random(f"engactivity-sim:{config.seed}:layout")
    skill_ids = list(range(1, config.skills + 1))
    weights = [1.0 / rank**0.8 for rank in skill_ids]
    cum: list[float] = []
    total = 0.0
    for weight in weights:
        total += weight
        cum.append(total)
    agent_ids = list(range(FIRST_AGENT_ID, FIRST_AGENT_ID + config.agents))
    skills_by_agent: dict[int, list[int]] = {}
    for agent in agent_ids:
        count = rng.randint(1, min(4, config.skills))
        chosen: set[int] = set()
        while len(chosen) < count:
            chosen.add(rng.choices(skill_ids, cum_weights=cum)[0])
        skills_by_agent[agent] = sorted(chosen)
    # A skill nobody serves goes to the agent with the fewest skills.
    for skill in skill_ids:
        if not any(skill in served for served in skills_by_agent.values()):
            agent = min(agent_ids, key=lambda a: (len(skills_by_agent[a]), a))
            skills_by_agent[agent] = sorted([*skills_by_agent[agent], skill])
    agents_by_skill = {
        skill: [a for a in agent_ids if skill in skills_by_agent[a]] for skill in skill_ids
    }
    return Layout(skill_ids, cum, skills_by_agent, agents_by_skill)


class Delivery(NamedTuple):
    """One event handed to the sink at ``at_ms`` (later than its time for a duplicate)."""

    at_ms: int
    seq: int
    event: dict[str, object]
    duplicate: bool


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _lognormal_s(rng: random.Random, spec: tuple[float, float, int, int]) -> int:
    median, sigma, low, high = spec
    return min(high, max(low, round(rng.lognormvariate(math.log(median), sigma))))


def engagement_totals(events: list[dict[str, object]]) -> Counters:
    """The engagement activity counters valid events add up to, by the method's own fold."""
    decoded = decode_plain_batch(orjson.dumps(events), INT64_MAX)
    assert decoded is not None, "simulated events are plain and valid"
    rows: Deltas = {}
    ROLLUP.fold(decoded, rows)
    return tuple(sum(column) for column in zip(*rows.values(), strict=True)) or ZERO


def add(a: Counters, b: Counters) -> Counters:
    return tuple(x + y for x, y in zip(a, b, strict=True))


class TrafficStream:
    """The simulated events delivered from ``start_ms`` on, in delivery order.

    Events with a time before ``start_ms`` are left out (and so are their duplicates);
    chats that began earlier but end later still contribute their ``closed`` events.
    """

    def __init__(self, config: SimConfig, start_ms: int) -> None:
        self.config = config
        self.start_ms = start_ms
        self.position_ms = start_ms
        """Everything delivered before this instant has been taken."""
        self.layout = build_layout(config)
        self._next_slot = (start_ms - _LOOKBACK_MS) // SLOT_MS
        self._heap: list[Delivery] = []
        self._seq = 0

    def _push(self, at_ms: int, event: dict[str, object], duplicate: bool) -> None:
        heapq.heappush(self._heap, Delivery(at_ms, self._seq, event, duplicate))
        self._seq += 1

    def _emit(self, rng: random.Random, event: dict[str, object]) -> None:
        """Queue ``event`` (and maybe a second delivery of it), if it is in the stream."""
        time_ms = event["time"]
        assert isinstance(time_ms, int)
        again = rng.random() < self.config.duplicate_share
        lag = rng.randint(*DUPLICATE_LAG_MS)
        if time_ms < self.start_ms:
            return
        self._push(time_ms, event, False)
        if again:
            self._push(time_ms + lag, dict(event), True)

    def _generate_slot(self, slot: int) -> None:
        config, layout = self.config, self.layout
        rng = random.Random(f"engactivity-sim:{config.seed}:{slot}")
        slot_start = slot * SLOT_MS
        mean = config.rate * daily_factor(slot_start + SLOT_MS // 2, config.utc_offset_hours)
        for number in range(_poisson(rng, mean)):
            chat = f"{config.seed}-{slot}-{number}"
            arrival = slot_start + rng.randrange(SLOT_MS)
            skill = rng.choices(layout.skill_ids, cum_weights=layout.skill_cum_weights)[0]
            kind = rng.random()
            if kind < config.abandon_share:
                gone = arrival + _lognormal_s(rng, ABANDON_WAIT_S) * 1000 + rng.randrange(1000)
                abandoned: dict[str, object] = {
                    "eventId": f"x-{chat}",
                    "type": "closed",
                    "time": gone,
                    "skillId": skill,
                    "interactive": False,
                    "handlingTime": 0,
                }
                if rng.random() < NO_SKILL_SHARE_OF_ABANDONED:
                    del abandoned["skillId"]
                self._emit(rng, abandoned)
                continue
            interactive = kind >= config.abandon_share + config.non_interactive_share
            agent = rng.choice(layout.agents_by_skill[skill])
            taken = arrival + _lognormal_s(rng, QUEUE_WAIT_S) * 1000 + rng.randrange(1000)
            handling = _lognormal_s(
                rng, INTERACTIVE_HANDLING_S if interactive else NON_INTERACTIVE_HANDLING_S
            )
            ended = taken + handling * 1000 + rng.randrange(1000)
            self._emit(
                rng,
                {
                    "eventId": f"c-{chat}",
                    "type": "connected",
                    "time": taken,
                    "skillId": skill,
                    "agentId": agent,
                },
            )
            self._emit(
                rng,
                {
                    "eventId": f"x-{chat}",
                    "type": "closed",
                    "time": ended,
                    "skillId": skill,
                    "agentId": agent,
                    "interactive": interactive,
                    "handlingTime": handling,
                },
            )

    def take_deliveries(self, end_ms: int) -> list[Delivery]:
        """Every delivery in ``[position_ms, end_ms)``, in order; moves the position."""
        if end_ms <= self.position_ms:
            return []
        # A chat arriving in a slot has all its events at or after the slot's start.
        while self._next_slot * SLOT_MS < end_ms:
            self._generate_slot(self._next_slot)
            self._next_slot += 1
        out: list[Delivery] = []
        while self._heap and self._heap[0].at_ms < end_ms:
            out.append(heapq.heappop(self._heap))
        self.position_ms = end_ms
        return out

    def take_until(self, end_ms: int) -> list[dict[str, object]]:
        """The events delivered in ``[position_ms, end_ms)``, duplicates included."""
        return [d.event for d in self.take_deliveries(end_ms)]


def generate_events(
    config: SimConfig, start_ms: int, end_ms: int, chunk_ms: int = HOUR_MS
) -> Iterator[dict[str, object]]:
    """The events delivered in ``[start_ms, end_ms)``, lazily, in delivery order.

    An event is delivered at its ``time``; a duplicate delivery comes a little later
    with the same fields, so it may carry a time before the window of its delivery.
    """
    stream = TrafficStream(config, start_ms)
    cursor = start_ms
    while cursor < end_ms:
        cursor = min(end_ms, cursor + chunk_ms)
        yield from stream.take_until(cursor)


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

DEMO_CONFIG = SimConfig(account="demo", agents=40, skills=8, rate=12.0, seed=1)
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
