"""Who serves what, and who is on duty when: the agents of a simulated account.

Agents serve 1 to 4 skills (popular skills have more agents), take at most 2 or 3 chats
at once and belong to teams (agent groups) of neighbouring ids. They are split into two
rosters, the evening and the night one, each able to serve every skill.

The staffing plan sets, per half hour, how many agents are on duty: enough for the
expected load with some headroom, but never more than ``peak_staffing`` times what the
busiest time would need, so peaks outpace the agents; agents on duty take breaks
(``model.py``), so the plan puts on duty as many more as the breaks take away. Agents
come on duty in a fixed order (those covering every skill first) and leave in reverse;
an agent going off duty finishes its chats. Every night there is a hand-over
(``SEAM_HOUR``, local time): in the 2.5 hours before it only the evening roster is on
duty, at the hand-over the night roster takes every new visitor while the evening roster
finishes its chats and serves the visitors already waiting, and 2.5 hours later both
rosters work together again. Nothing that happened before a hand-over then matters any
more: the simulation can start at a hand-over with nobody busy and nobody waiting and
get exactly the same events as one that started days earlier (see ``model.py``).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from engactivity.simulate.config import (
    CHAT_SPAN_MS,
    DAY_MS,
    HEADROOM,
    MAX_CHATS,
    MINUTE_MS,
    PEAK_FACTOR,
    SPARE,
    SimConfig,
    break_share,
    daily_factor,
)

FIRST_AGENT_ID = 1001
"""Agents are numbered from here; skills and agent groups from 1."""
SEAM_HOUR = 1.0
"""The local hour of the nightly hand-over."""
SEAM_MS = 150 * MINUTE_MS
"""How long before and after the hand-over one roster works alone."""
BLOCK_MS = 30 * MINUTE_MS
"""The staffing plan's step."""
ALL, EVENING, NIGHT = 0, 1, 2
"""Who is on duty: both rosters, the evening one, the night one."""

assert SEAM_MS >= CHAT_SPAN_MS, "a roster must be able to finish every chat it took"
assert SEAM_MS % BLOCK_MS == 0


@dataclass(frozen=True)
class Layout:
    """Who serves what: derived from the config's seed alone."""

    skill_ids: list[int]
    skill_cum_weights: list[float]
    skills_by_agent: dict[int, list[int]]
    agents_by_skill: dict[int, list[int]]
    max_chats: dict[int, int]
    group_of: dict[int, int]
    orders: tuple[list[int], list[int], list[int]]
    """The order agents come on duty in, by mode (ALL, EVENING, NIGHT)."""
    least: tuple[int, int, int]
    """The fewest agents on duty per mode: enough to serve every skill."""


_Skills = tuple[dict[int, list[int]], dict[int, float]]
"""The skills of each agent, and each skill's share of the traffic."""


def _skill_weights(count: int, exponent: float) -> list[float]:
    """Cumulative Zipf-like weights of skills 1..count."""
    cum: list[float] = []
    total = 0.0
    for rank in range(1, count + 1):
        total += 1.0 / rank**exponent
        cum.append(total)
    return cum


def _cover(roster: list[int], skills_by_agent: dict[int, list[int]], skills: int) -> None:
    """Give every skill nobody in ``roster`` serves to its agent with the fewest skills."""
    if not roster:
        return
    served = {s for agent in roster for s in skills_by_agent[agent]}
    for skill in range(1, skills + 1):
        if skill not in served:
            agent = min(roster, key=lambda a: (len(skills_by_agent[a]), a))
            skills_by_agent[agent] = sorted([*skills_by_agent[agent], skill])


def _duty_order(
    roster: list[int], layout: _Skills, rank: dict[int, int], max_chats: dict[int, int]
) -> tuple[list[int], int]:
    """The roster in the order its agents come on duty, and how many of the first ones
    serve every skill: those first, then each time an agent of the skill whose slots lag
    furthest behind its share of the traffic."""
    skills_by_agent, shares = layout
    rest = sorted(roster, key=rank.__getitem__)
    uncovered = {s for agent in roster for s in skills_by_agent[agent]}
    order: list[int] = []
    while uncovered:
        best = max(rest, key=lambda a: (len(uncovered.intersection(skills_by_agent[a])), -rank[a]))
        order.append(best)
        rest.remove(best)
        uncovered.difference_update(skills_by_agent[best])
    covering = len(order)
    waiting = {s: deque(a for a in rest if s in skills_by_agent[a]) for s in shares}
    slots = dict.fromkeys(shares, 0.0)
    total = 0
    placed: set[int] = set()

    def place(agent: int) -> None:
        nonlocal total
        placed.add(agent)
        total += max_chats[agent]
        # An agent of several skills is shared between them.
        for skill in skills_by_agent[agent]:
            slots[skill] += max_chats[agent] / len(skills_by_agent[agent])

    for agent in order:
        place(agent)
    while len(order) < len(roster):
        for queue in waiting.values():
            while queue and queue[0] in placed:
                queue.popleft()
        # Small skills need relatively more spare slots than large ones.
        lagging = max(
            (s for s in shares if waiting[s]),
            key=lambda s: (shares[s] * total + math.sqrt(shares[s] * total) - slots[s], -s),
        )
        order.append(waiting[lagging].popleft())
        place(order[-1])
    return order, covering


def build_layout(config: SimConfig) -> Layout:
    rng = random.Random(f"engactivity-sim:{config.seed}:layout")
    skill_ids = list(range(1, config.skills + 1))
    cum = _skill_weights(config.skills, 0.8)
    # Agents are spread more evenly than the traffic: small skills need a few agents.
    spread = _skill_weights(config.skills, 0.4)
    agent_ids = list(range(FIRST_AGENT_ID, FIRST_AGENT_ID + config.agents))
    skills_by_agent: dict[int, list[int]] = {}
    for agent in agent_ids:
        count = rng.randint(1, min(4, config.skills))
        chosen: set[int] = set()
        while len(chosen) < count:
            chosen.add(rng.choices(skill_ids, cum_weights=spread)[0])
        skills_by_agent[agent] = sorted(chosen)
    max_chats = {agent: rng.choice(MAX_CHATS) for agent in agent_ids}
    teams = max(1, min(20, round(math.sqrt(config.agents) / 2)))
    group_of = {a: 1 + (a - FIRST_AGENT_ID) * teams // config.agents for a in agent_ids}
    shuffled = list(agent_ids)
    rng.shuffle(shuffled)
    rank = {agent: i for i, agent in enumerate(shuffled)}
    evening = sorted(shuffled[: (config.agents + 1) // 2])
    night = sorted(shuffled[(config.agents + 1) // 2 :])
    _cover(evening, skills_by_agent, config.skills)
    _cover(night, skills_by_agent, config.skills)
    shares = {s: (cum[s - 1] - (cum[s - 2] if s > 1 else 0.0)) / cum[-1] for s in skill_ids}
    skills = (skills_by_agent, shares)
    evening_order, evening_least = _duty_order(evening, skills, rank, max_chats)
    night_order, night_least = _duty_order(night, skills, rank, max_chats)
    # Both rosters work side by side outside the hand-over: take turns.
    both = [a for pair in zip(evening_order, night_order, strict=False) for a in pair]
    both += evening_order[len(night_order) :]
    agents_by_skill = {s: [a for a in agent_ids if s in skills_by_agent[a]] for s in skill_ids}
    return Layout(
        skill_ids,
        cum,
        skills_by_agent,
        agents_by_skill,
        max_chats,
        group_of,
        (both, evening_order, night_order),
        (max(1, 2 * evening_least - 1), evening_least, night_least),
    )


class Staffing:
    """The staffing plan of one account: who is on duty when (for new visitors)."""

    def __init__(self, config: SimConfig, layout: Layout) -> None:
        self.config = config
        self.layout = layout
        hours = (SEAM_HOUR - config.utc_offset_hours) % 24
        self.seam_offset_ms = round(hours * 60) * MINUTE_MS % DAY_MS
        """The nightly hand-overs are at this offset into every UTC day (whole minutes)."""
        per_agent = sum(layout.max_chats.values()) / len(layout.max_chats)
        self._chats_per_agent = per_agent * (1 - break_share(config))
        """Chat slots an agent on duty offers on average (less its breaks)."""
        self._in_progress = config.rate * config.mean_handling_s() / 60
        """Chats in progress on a day-average minute, had nobody waited."""
        self._most = config.peak_staffing * self._in_progress * PEAK_FACTOR
        cum = layout.skill_cum_weights
        shares = [(b - a) / cum[-1] for a, b in zip([0.0, *cum], cum, strict=False)]
        self._skills_weight = sum(math.sqrt(share) for share in shares) ** 2
        """Sum over skills of sqrt(share * load) is sqrt(load * this)."""

    def seam_before(self, time_ms: int) -> int:
        """The latest hand-over at or before ``time_ms``."""
        return time_ms - (time_ms - self.seam_offset_ms) % DAY_MS

    def mode(self, time_ms: int) -> int:
        into = (time_ms - self.seam_offset_ms) % DAY_MS
        if into < SEAM_MS:
            return NIGHT
        return EVENING if into >= DAY_MS - SEAM_MS else ALL

    def block_start(self, time_ms: int) -> int:
        return time_ms - (time_ms - self.seam_offset_ms) % BLOCK_MS

    def on_duty(self, time_ms: int) -> list[int]:
        """The agents on duty for new visitors at ``time_ms``, in the order they came."""
        start = self.block_start(time_ms)
        mode = self.mode(start)
        expected = self._in_progress * daily_factor(
            start + BLOCK_MS // 2, self.config.utc_offset_hours
        )
        # Square-root staffing, skill by skill: small loads need relatively more spare
        # slots than large ones, or visitors wait even when the load is light.
        spare = SPARE * math.sqrt(expected * self._skills_weight)
        slots = min(expected * HEADROOM + spare, self._most)
        wanted = max(math.ceil(slots / self._chats_per_agent), self.layout.least[mode])
        return self.layout.orders[mode][:wanted]
