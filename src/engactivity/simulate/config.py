"""What to simulate (``SimConfig``), the daily curve, and the model's fixed distributions."""

from __future__ import annotations

import math
from dataclasses import dataclass

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

MAX_BACKFILL_MS = DAY_MS
"""History older than this could be purged by the store (retention is 24 h 10 min)."""

# Distributions (seconds): (median, sigma of the log, lower cap, upper cap).
INTERACTIVE_HANDLING_S = (420.0, 0.55, 20, 7200)
NON_INTERACTIVE_HANDLING_S = (75.0, 0.7, 5, 1800)
PATIENCE_S = (180.0, 1.0, 3, 1200)
"""How long a visitor is willing to wait before giving up."""
ROUTING_S = (3.0, 0.6, 1, 20)
"""From entering the queue to being routable: a free agent connects after this."""
UNROUTED_SHARE = 0.005
"""Visitors who never get a skill: nobody can take them, they all give up."""
DUPLICATE_LAG_MS = (500, 120_000)

CHAT_SPAN_MS = (PATIENCE_S[3] + ROUTING_S[3] + INTERACTIVE_HANDLING_S[3] + 2) * SECOND_MS
"""The longest a chat can last, from its arrival to its last event."""

MAX_CHATS = (2, 3)
"""Each agent takes at most 2 or 3 chats at once (drawn per agent)."""
QUEUE_STATE_PERIODS_S = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
"""The periods a simulation may sample queues at: every skill at least once a minute,
on instants that repeat every minute."""

AWAY_REASONS = {"1": "Break", "2": "Lunch", "3": "Meeting", "4": "Training", "5": "End of shift"}
"""The ``reasonId``s of ``away`` (as strings) and what they stand for."""
END_OF_SHIFT = "5"
"""Away after the agent's shift (or a roster's day) ended, finishing its last chats."""
BREAKS: tuple[tuple[str | None, float, int, int], ...] = (
    (None, 0.35, 2, 8),  # backSoon ("Back in 5")
    ("1", 0.30, 10, 20),  # a break
    ("2", 0.15, 30, 60),  # lunch
    ("3", 0.12, 15, 45),  # a meeting
    ("4", 0.08, 30, 90),  # training
)
"""What an agent on duty steps away for: (reasonId, None for backSoon; weight; shortest
and longest minutes)."""
BREAK_CHANCE = 0.2
"""The chance that an agent on duty takes a break in a given half hour."""
_BREAK_MIN = sum(w * (lo + hi) / 2 for _, w, lo, hi in BREAKS) / sum(b[1] for b in BREAKS)
BREAK_SHARE = BREAK_CHANCE * _BREAK_MIN / (30 + BREAK_CHANCE * _BREAK_MIN)
"""About the share of their time agents on duty spend on breaks (the staffing plan puts
on duty that many more): a break of the mean length every ``30 / BREAK_CHANCE`` minutes
online."""
HEADROOM = 1.1
SPARE = 1.5
"""Off-peak, the plan puts on duty ``HEADROOM`` times the expected load plus ``SPARE``
times the square root of each skill's load (in chats in progress)."""


def _daily_shape(hour: float) -> float:
    """Relative traffic at ``hour`` (0..24) of the local day, before normalisation."""
    return (
        0.12
        + 1.0 * math.exp(-(((hour - 10.5) / 2.2) ** 2))
        + 0.9 * math.exp(-(((hour - 15.0) / 2.4) ** 2))
        + 0.25 * math.exp(-(((hour - 20.0) / 1.5) ** 2))
    )


_MINUTES_PER_DAY = DAY_MS // MINUTE_MS
_SHAPE_MEAN = sum(
    _daily_shape((m + 0.5) * 24 / _MINUTES_PER_DAY) for m in range(_MINUTES_PER_DAY)
) / (_MINUTES_PER_DAY)
PEAK_FACTOR = max(
    _daily_shape((m + 0.5) * 24 / _MINUTES_PER_DAY) for m in range(_MINUTES_PER_DAY)
) / (_SHAPE_MEAN)
"""How much busier than the day's average the busiest minute is."""


def daily_factor(time_ms: int, utc_offset_hours: float = 0.0) -> float:
    """How busy ``time_ms`` is relative to the day's average (the day averages 1.0)."""
    local_ms = time_ms + round(utc_offset_hours * HOUR_MS)
    hour = (local_ms % DAY_MS) / HOUR_MS
    return _daily_shape(hour) / _SHAPE_MEAN


def lognormal_mean(spec: tuple[float, float, int, int]) -> float:
    """The mean of a distribution above, ignoring its caps (they barely move it)."""
    median, sigma, _, _ = spec
    return median * math.exp(sigma**2 / 2)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. Shares are probabilities per chat (or per event, duplicates)."""

    account: str = "demo"
    agents: int = 100
    """The account's agents; the staffing plan puts on duty as many as the traffic needs."""
    skills: int = 8
    rate: float = 10.0
    """Average new chats per minute over a whole day; the daily curve spreads them."""
    seed: int = 1
    duplicate_share: float = 0.02
    """Chance that an event is delivered twice (same eventId)."""
    non_interactive_share: float = 0.12
    """Chats that reach an agent but never become interactive."""
    utc_offset_hours: float = 0.0
    """Where the business day lies: 0 puts the peaks at 10:30 and 15:00 UTC."""
    peak_staffing: float = 0.8
    """Chat slots on duty at the busiest time, relative to the chats then in progress
    had nobody waited: below 1 the peaks outpace the agents and queues build up."""
    queue_state_period_s: int = 10
    """Seconds between two ``queueState`` samples of every skill: a divisor of 60."""
    breaks: bool = True
    """Agents on duty step away now and then (``away`` with a reason, ``backSoon``) and
    take no new chats meanwhile. Without breaks the chat and queue events are exactly
    those of the simulator before it sent ``agentState`` events."""

    def __post_init__(self) -> None:
        periods = ", ".join(map(str, QUEUE_STATE_PERIODS_S))
        if self.agents < 1 or self.skills < 1:
            raise ValueError("a simulation needs at least one agent and one skill")
        if not 0 <= self.rate <= 100_000:
            raise ValueError("rate must be between 0 and 100000 chats per minute")
        for name in ("duplicate_share", "non_interactive_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not 0.05 <= self.peak_staffing <= 10:
            raise ValueError("peak_staffing must be between 0.05 and 10")
        if self.queue_state_period_s not in QUEUE_STATE_PERIODS_S:
            raise ValueError(f"queue_state_period_s must divide a minute: one of {periods}")

    def mean_handling_s(self) -> float:
        """The mean handling time of a chat that reaches an agent."""
        share = self.non_interactive_share
        return (1 - share) * lognormal_mean(INTERACTIVE_HANDLING_S) + share * lognormal_mean(
            NON_INTERACTIVE_HANDLING_S
        )


def break_share(config: SimConfig) -> float:
    """The share of their time agents on duty spend away or back soon, about."""
    return BREAK_SHARE if config.breaks else 0.0
