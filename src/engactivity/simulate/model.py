"""The queue model: visitors arrive, wait for a free agent slot or give up, chat, leave.

A discrete-event simulation of one account, run forward in time:

- Visitors arrive as a Poisson process following the daily curve, each with its skill,
  its patience, and what its chat will be like should it reach an agent. All of that is
  drawn in advance, half an hour at a time (a step of the staffing plan, ``staff.py``),
  from generators seeded by ``(seed, step)``.
- A visitor enters its skill's queue (``queued``) and is routable a few seconds later.
  It is connected at once if an agent on duty serving that skill has a free slot (the
  least busy such agent), else it waits: when an agent's slot frees, the agent takes the
  visitor who has waited longest in the queues of its skills (FIFO per skill). A visitor
  still waiting when its patience runs out gives up (``abandoned``, then ``closed``).
- A connected chat (``connected``, with its wait and the agent's group) ends ``closed``
  after its handling time.
- Every ``queue_state_period_s`` each skill is sampled (``queueState``): the visitors
  queued and neither connected nor gone, and the free slots of the agents on duty
  serving it and online.
- An agent is ``online`` while on duty (it logs in when the staffing plan puts it on
  duty). Now and then it takes a break it planned (``agents.py``): ``away`` with a
  reason, or ``backSoon``, for a drawn length, taking no new visitor meanwhile but
  finishing its chats; it skips the break if it is the last one online for one of its
  skills. Off duty it is ``away`` (end of shift) until its last chat closes, then
  ``loggedOut``; after a hand-over the evening roster stays ``online`` until no visitor
  of before can still reach it (``RELEASE_MS``). Whenever an agent's state or number of
  chats changed at an instant, its ``agentState`` is made once the instant is over
  (before the samples of that instant).

Every choice is made from the state and the draws alone (ties go to what came first),
and what serves new visitors after a hand-over starts empty there and depends only on
what arrived since: a model started at a hand-over with nobody there gives, once the
last visitor of before is served or gone, exactly the events of one started any number
of days earlier. That holds for the agents' states too: a hand-over cuts the evening
roster's breaks short, and the night roster has been off duty for longer than a chat
or a break lasts when it takes over. Without breaks (``SimConfig.breaks``) the chat and
queue events are those of the model before agents had states.
"""

from __future__ import annotations

import heapq
import math
import random
from array import array
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engactivity.simulate.agents import (
    LOGGED_OUT,
    Shown,
    agent_state,
    draw_breaks,
    redelivery_lag,
)
from engactivity.simulate.config import (
    BREAKS,
    DUPLICATE_LAG_MS,
    END_OF_SHIFT,
    INTERACTIVE_HANDLING_S,
    MAX_CHATS,
    MINUTE_MS,
    NON_INTERACTIVE_HANDLING_S,
    PATIENCE_S,
    ROUTING_S,
    SECOND_MS,
    UNROUTED_SHARE,
    SimConfig,
    daily_factor,
)
from engactivity.simulate.staff import ALL, BLOCK_MS, NIGHT, SEAM_MS, Layout, Staffing

Event = dict[str, object]

_NEVER = 2**63
_ROUTE, _END, _ABANDON = range(3)
_BREAK, _BACK, _RELEASE = range(3)
"""The agents' timers: a planned break begins, a break ends, the evening roster is done."""
# A chat's state, and an agent's duty.
_WAITING, _CONNECTED, _GONE = range(3)
_OFF, _ON, _FINISHING, _AWAY = range(4)
"""Off duty; taking new visitors; after a hand-over, serving only those of before; on
duty but on a break (taking no visitor)."""
RELEASE_MS = (max(PATIENCE_S[3], ROUTING_S[3]) + 1) * SECOND_MS
"""After a hand-over, the last visitor of before is connected or gone within this."""


# -- the draws of a step ----------------------------------------------------------------


class _Draws:
    """Random numbers made only from the raw bits of PCG64, whose stream numpy keeps
    the same across versions (its distributions may change): the same seed must give
    the same events after an upgrade too, or a re-run would count them twice."""

    def __init__(self, *numbers: int) -> None:
        entropy = [n % 2**64 for n in (0x51A, *numbers)]
        self._bits = np.random.PCG64(np.random.SeedSequence(entropy))
        self.python = random.Random(str(entropy))

    def uniform(self, count: int) -> npt.NDArray[np.float64]:
        """In [0, 1)."""
        raw = self._bits.random_raw(count)
        return np.asarray(raw >> np.uint64(11), np.float64) * 2.0**-53

    def below(self, high: int, count: int) -> npt.NDArray[np.int64]:
        return np.minimum(self.uniform(count) * high, high - 1).astype(np.int64)

    def lognormal(self, spec: tuple[float, float, int, int], count: int) -> npt.NDArray[np.int64]:
        median, sigma, low, high = spec
        radius = np.sqrt(-2 * np.log1p(-self.uniform(count)))
        normal = radius * np.cos(2 * np.pi * self.uniform(count))  # Box-Muller
        drawn: npt.NDArray[np.float64] = np.rint(median * np.exp(sigma * normal))
        return np.clip(drawn, low, high).astype(np.int64)

    def poisson(self, mean: float) -> int:
        rng = self.python
        if mean <= 0:
            return 0
        if mean > 60:
            return max(0, round(rng.gauss(mean, math.sqrt(mean))))
        limit, count, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count


def _ints(values: npt.NDArray[np.integer] | npt.NDArray[np.bool_]) -> array[int]:
    # Arrays, not lists: as quick to read an item of, and nothing for the garbage
    # collector to walk through.
    return array("q", values.astype(np.int64).tobytes())


@dataclass(frozen=True)
class Arrivals:
    """The visitors of one step of the staffing plan, in arrival order, with every draw
    their future needs."""

    prefix: str
    """Event ids end with this, the minute of arrival, '-' and the number in the minute."""
    times: array[int]
    minutes: array[int]
    numbers: array[int]
    skills: array[int]
    """Skill index (id - 1), or -1 for none."""
    routable_ms: array[int]
    patience_ms: array[int]
    interactive: array[int]
    handling_s: array[int]
    closing_ms: array[int]
    """Milliseconds past the handling time's whole seconds when the chat closes."""
    twice: array[int]
    """Per chat and event (queued; connected or abandoned; closed): 1 when it is
    delivered a second time, ``lags[3 * chat + event]`` ms later."""
    lags: array[int]
    sample_twice: array[int]
    """The same per sample instant of the step and skill."""
    sample_lags: array[int]


def draw_step(config: SimConfig, layout: Layout, start_ms: int) -> Arrivals:
    """The visitors arriving in the step of the staffing plan from ``start_ms`` on."""
    draw = _Draws(config.seed, start_ms // BLOCK_MS)
    minutes = start_ms // MINUTE_MS + np.arange(BLOCK_MS // MINUTE_MS, dtype=np.int64)
    offset = config.utc_offset_hours
    middles = (minutes * MINUTE_MS + MINUTE_MS // 2).tolist()
    counts = np.array([draw.poisson(config.rate * daily_factor(m, offset)) for m in middles])
    count = int(counts.sum())
    minute_of = np.repeat(minutes, counts)
    times = np.sort(minute_of * MINUTE_MS + draw.below(MINUTE_MS, count))
    weights = np.array(layout.skill_cum_weights) / layout.skill_cum_weights[-1]
    skills = np.minimum(
        np.searchsorted(weights, draw.uniform(count), side="right"), len(weights) - 1
    )
    skills[draw.uniform(count) < UNROUTED_SHARE] = -1
    interactive = draw.uniform(count) >= config.non_interactive_share
    handling = np.where(
        interactive,
        draw.lognormal(INTERACTIVE_HANDLING_S, count),
        draw.lognormal(NON_INTERACTIVE_HANDLING_S, count),
    )
    closing = draw.below(SECOND_MS, count)
    patience = draw.lognormal(PATIENCE_S, count) * SECOND_MS + draw.below(SECOND_MS, count)
    routable = draw.lognormal(ROUTING_S, count) * SECOND_MS + draw.below(SECOND_MS, count)
    twice, lags = _duplicates(config, draw, 3 * count)
    samples = BLOCK_MS // (config.queue_state_period_s * SECOND_MS) * len(weights)
    sample_twice, sample_lags = _duplicates(
        config, _Draws(config.seed, start_ms // BLOCK_MS, 1), samples
    )
    return Arrivals(
        f"{config.seed}-",
        _ints(times),
        _ints(minute_of),
        _ints(np.arange(count) - np.repeat(np.cumsum(counts) - counts, counts)),
        _ints(skills),
        _ints(routable),
        _ints(patience),
        _ints(interactive),
        _ints(handling),
        _ints(closing),
        _ints(twice),
        _ints(lags),
        _ints(sample_twice),
        _ints(sample_lags),
    )


def _duplicates(
    config: SimConfig, draw: _Draws, events: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Which of ``events`` events are delivered twice, and how much later."""
    if config.duplicate_share == 0:
        return np.zeros(events, np.bool_), np.zeros(events, np.int64)
    twice = draw.uniform(events) < config.duplicate_share
    low, high = DUPLICATE_LAG_MS
    return twice, low + draw.below(high - low + 1, events)


# -- the model ------------------------------------------------------------------------------


class _Chat:
    __slots__ = ("agent", "arrived", "index", "joined", "name", "skill", "state", "step")

    def __init__(self, step: Arrivals, index: int, arrived: int, skill: int) -> None:
        self.step = step
        self.index = index
        self.name = f"{step.prefix}{step.minutes[index]}-{step.numbers[index]}"
        self.arrived = arrived
        self.skill = skill
        self.state = _WAITING
        self.agent = -1
        self.joined = arrived
        """When it joined its skill's queue (FIFO order)."""


class _Findable:
    """Agents with a free slot, per skill and number of chats in progress, each in the
    order they got there: the least busy agent, busy so the longest, comes first.
    Entries are left behind when an agent changes (its stamp moves on) and skipped."""

    def __init__(self, skills: int) -> None:
        self.levels = [
            [deque[tuple[int, int]]() for _ in range(max(MAX_CHATS))] for _ in range(skills)
        ]

    def add(self, agent: int, stamp: int, active: int, skills: list[int]) -> None:
        entry = (agent, stamp)
        for skill in skills:
            self.levels[skill][active].append(entry)

    def first(self, skill: int, stamps: list[int]) -> int:
        for level in self.levels[skill]:
            while level:
                agent, stamp = level[0]
                if stamps[agent] == stamp:
                    return agent
                level.popleft()
        return -1

    def clear(self) -> None:
        for levels in self.levels:
            for level in levels:
                level.clear()


class QueueModel:
    """The account's queues and agents, from a hand-over on; :meth:`run_until` moves
    time forward and appends what happens to ``out``, in time order."""

    def __init__(
        self, config: SimConfig, layout: Layout, staffing: Staffing, start_ms: int, quiet_ms: int
    ) -> None:
        """A model with nobody there at the hand-over ``start_ms``, whose events before
        ``quiet_ms`` are not wanted (not even made)."""
        assert staffing.seam_before(start_ms) == start_ms, "a model starts at a hand-over"
        self.config = config
        self.staffing = staffing
        agents = sorted(layout.skills_by_agent)
        self._index = {agent: i for i, agent in enumerate(agents)}
        self.agent_ids = agents
        self.group_ids = [layout.group_of[a] for a in agents]
        self.max_chats = [layout.max_chats[a] for a in agents]
        self.skills_of = [[s - 1 for s in layout.skills_by_agent[a]] for a in agents]
        self.active = [0] * len(agents)
        self.duty = [_OFF] * len(agents)
        self.stamp = [0] * len(agents)
        """Moves on whenever an agent's chats or duty change."""
        self._init_agent_states(layout)
        skills = len(layout.skill_ids)
        self.waiting = [0] * skills
        """Per skill: visitors queued, not yet connected nor gone (the sampled size)."""
        self.free = [0] * skills
        """Per skill: free slots of the agents on duty serving it."""
        # Per kind of visitor: 0, new; 1, arrived before the current hand-over.
        self.queues: tuple[list[deque[_Chat]], ...] = tuple(
            [deque() for _ in range(skills)] for _ in range(2)
        )
        self.findable = (_Findable(skills), _Findable(skills))
        self.on_duty: list[int] = []
        self.hand_over = start_ms
        self.pending: list[tuple[int, int, int, _Chat]] = []
        self.seq = 0
        self.next_block = self.step_start = start_ms
        self.period = config.queue_state_period_s * SECOND_MS
        self.next_sample = -(-start_ms // self.period) * self.period
        self.step: Arrivals | None = None
        self.arrival = self.arrivals = 0
        self.quiet_ms = quiet_ms
        self.out: list[Event] = []
        self.lags: list[int] = []
        """Per event of ``out``: the lag of its second delivery, or -1 (delivered once)."""

    def _init_agent_states(self, layout: Layout) -> None:
        agents = len(self.agent_ids)
        self.agents_of = [
            [self._index[a] for a in layout.agents_by_skill[s]] for s in layout.skill_ids
        ]
        self.reason: list[str | None] = [None] * agents
        """Per agent on a break: its reasonId (None: back soon)."""
        self.token = [0] * agents
        """Per agent: its breaks so far (a break's end is for the latest one only)."""
        self.released = False
        """Whether the evening roster no longer serves the visitors of before the hand-over."""
        self.timers: list[tuple[int, int, int, int, int, int]] = []
        """The agents' timers: (time, seq, what, agent, and two numbers of their own)."""
        self.shown: list[Shown] = [LOGGED_OUT] * agents
        """Per agent: the state its latest ``agentState`` told (made or not)."""
        self.dirty: list[int] = []
        """Agents who changed at ``dirty_at``: their ``agentState`` is made when time moves on."""
        self.dirty_at = _NEVER

    def run_until(self, end_ms: int) -> None:
        """Everything that happens before ``end_ms``."""
        pending, timers = self.pending, self.timers
        while True:
            next_event = pending[0][0] if pending else _NEVER
            next_timer = timers[0][0] if timers else _NEVER
            step = self.step
            next_arrival = (
                step.times[self.arrival] if step and self.arrival < self.arrivals else _NEVER
            )
            now = min(self.next_block, next_timer, next_event, next_arrival, self.next_sample)
            if now > self.dirty_at:
                self._show()
            if now >= end_ms:
                return
            # At the same instant: the staffing, the agents' timers, then chats, then
            # arrivals, then the agents' states, then samples.
            if now == self.next_block:
                self._block(now)
            elif now == next_timer:
                self._timer(heapq.heappop(timers))
            elif now == next_event:
                _, _, kind, chat = heapq.heappop(pending)
                if kind == _ROUTE:
                    self._route(chat, now)
                elif kind == _END:
                    self._end(chat, now)
                else:
                    self._give_up(chat, now)
            elif now == next_arrival:
                self._arrive(now)
            else:
                self._sample(now)

    def _push(self, time_ms: int, kind: int, chat: _Chat) -> None:
        heapq.heappush(self.pending, (time_ms, self.seq, kind, chat))
        self.seq += 1

    def _emit(self, event: Event, chat: _Chat, number: int) -> None:
        step, at = chat.step, 3 * chat.index + number
        self.out.append(event)
        self.lags.append(step.lags[at] if step.twice[at] else -1)

    # -- visitors ------------------------------------------------------------------------

    def _arrive(self, now: int) -> None:
        step = self.step
        assert step is not None
        index = self.arrival
        self.arrival += 1
        skill = step.skills[index]
        chat = _Chat(step, index, now, skill)
        if now >= self.quiet_ms:
            event: Event = {"eventId": "q-" + chat.name, "type": "queued", "time": now}
            if skill >= 0:
                event["skillId"] = skill + 1
            self._emit(event, chat, 0)
        give_up = now + step.patience_ms[index]
        if skill < 0:  # nobody serves it
            self._push(give_up, _ABANDON, chat)
            return
        self.waiting[skill] += 1
        routable = now + step.routable_ms[index]
        self._push(routable, _ROUTE, chat)
        if give_up <= routable:
            self._push(give_up, _ABANDON, chat)

    def _route(self, chat: _Chat, now: int) -> None:
        if chat.state != _WAITING:
            return
        kind = 1 if chat.arrived < self.hand_over else 0
        agent = self.findable[kind].first(chat.skill, self.stamp)
        if agent >= 0:
            self._connect(chat, agent, now)
            self._offer(agent)
            return
        chat.joined = now
        self.queues[kind][chat.skill].append(chat)
        give_up = chat.arrived + chat.step.patience_ms[chat.index]
        if give_up > now:
            self._push(give_up, _ABANDON, chat)

    def _connect(self, chat: _Chat, agent: int, now: int) -> None:
        self.active[agent] += 1
        self.stamp[agent] += 1
        self._touch(agent, now)
        if self.duty[agent] == _ON:
            for skill in self.skills_of[agent]:
                self.free[skill] -= 1
        skill = chat.skill
        self.waiting[skill] -= 1
        chat.state = _CONNECTED
        chat.agent = agent
        if now >= self.quiet_ms:
            event: Event = {
                "eventId": "c-" + chat.name,
                "type": "connected",
                "time": now,
                "skillId": skill + 1,
                "agentId": self.agent_ids[agent],
                "waitTime": (now - chat.arrived + 500) // SECOND_MS,
                "agentGroupId": self.group_ids[agent],
            }
            self._emit(event, chat, 1)
        step, index = chat.step, chat.index
        self._push(now + step.handling_s[index] * SECOND_MS + step.closing_ms[index], _END, chat)

    def _end(self, chat: _Chat, now: int) -> None:
        agent = chat.agent
        if now >= self.quiet_ms:
            step, index = chat.step, chat.index
            event: Event = {
                "eventId": "x-" + chat.name,
                "type": "closed",
                "time": now,
                "skillId": chat.skill + 1,
                "agentId": self.agent_ids[agent],
                "interactive": step.interactive[index] == 1,
                "handlingTime": step.handling_s[index],
            }
            self._emit(event, chat, 2)
        self.active[agent] -= 1
        self.stamp[agent] += 1
        self._touch(agent, now)
        duty = self.duty[agent]
        if duty == _ON:
            for skill in self.skills_of[agent]:
                self.free[skill] += 1
        if duty in (_ON, _FINISHING):
            self._fill(agent, now)

    def _give_up(self, chat: _Chat, now: int) -> None:
        if chat.state != _WAITING:
            return
        chat.state = _GONE
        skill = chat.skill
        if skill >= 0:
            self.waiting[skill] -= 1
        if now < self.quiet_ms:
            return
        left: Event = {"eventId": "a-" + chat.name, "type": "abandoned", "time": now}
        closed: Event = {"eventId": "x-" + chat.name, "type": "closed", "time": now}
        if skill >= 0:
            left["skillId"] = closed["skillId"] = skill + 1
        left["waitTime"] = (now - chat.arrived + 500) // SECOND_MS
        closed.update(interactive=False, handlingTime=0)
        self._emit(left, chat, 1)
        self._emit(closed, chat, 2)

    # -- agents --------------------------------------------------------------------------

    def _fill(self, agent: int, now: int) -> None:
        """Let ``agent`` take the longest-waiting visitors of its skills while it has
        free slots; then make it findable by arriving visitors."""
        queues = self.queues[0 if self.duty[agent] == _ON else 1]
        skills = self.skills_of[agent]
        while self.active[agent] < self.max_chats[agent]:
            best: deque[_Chat] | None = None
            for skill in skills:
                queue = queues[skill]
                while queue and queue[0].state != _WAITING:
                    queue.popleft()
                if queue and (best is None or queue[0].joined < best[0].joined):
                    best = queue
            if best is None:
                break
            self._connect(best.popleft(), agent, now)
        self._offer(agent)

    def _offer(self, agent: int) -> None:
        """Make ``agent`` findable by visitors routed to its skills, if it has room."""
        active, duty = self.active[agent], self.duty[agent]
        if duty in (_ON, _FINISHING) and active < self.max_chats[agent]:
            kind = 0 if duty == _ON else 1
            self.findable[kind].add(agent, self.stamp[agent], active, self.skills_of[agent])

    def _set_free(self, agent: int, sign: int) -> None:
        slots = sign * (self.max_chats[agent] - self.active[agent])
        for skill in self.skills_of[agent]:
            self.free[skill] += slots

    # -- the clock's steps ---------------------------------------------------------------

    def _sample(self, now: int) -> None:
        self.next_sample = now + self.period
        if self.dirty:
            self._show()
        step = self.step
        if now < self.quiet_ms or step is None:
            return
        skills = len(self.waiting)
        first = (now - self.step_start) // self.period * skills
        for skill in range(skills):
            event: Event = {
                "eventId": f"s-{skill + 1}-{now}",
                "type": "queueState",
                "time": now,
                "skillId": skill + 1,
                "queueSize": self.waiting[skill],
                "availableSlots": self.free[skill],
            }
            self.out.append(event)
            at = first + skill
            self.lags.append(step.sample_lags[at] if step.sample_twice[at] else -1)

    def _block(self, now: int) -> None:
        """A step of the staffing plan, and its visitors."""
        self.step = draw_step(self.config, self.staffing.layout, now)
        self.step_start = now
        self.arrival, self.arrivals = 0, len(self.step.times)
        mode = self.staffing.mode(now)
        if mode == NIGHT and now == self.staffing.seam_before(now):
            self._hand_over(now)
        elif mode == ALL and now == self.hand_over + SEAM_MS:
            self._evening_done(now)
        self._set_duty([self._index[a] for a in self.staffing.on_duty(now)], now)
        if self.config.breaks:
            self._plan_breaks(now)
        self.next_block = now + BLOCK_MS

    def _hand_over(self, now: int) -> None:
        """The night roster takes every new visitor; the evening roster finishes its
        chats and serves the visitors already waiting (cutting its breaks short)."""
        self.hand_over = now
        self.released = False
        self._timer_at(now + RELEASE_MS, _RELEASE, -1)
        on_break = [agent for agent in self.on_duty if self.duty[agent] == _AWAY]
        for agent in self.on_duty:
            if self.duty[agent] == _ON:
                self._set_free(agent, -1)
            self.duty[agent] = _FINISHING
            self._touch(agent, now)
        self.on_duty = []
        # What served new visitors now serves those of before (the entries still hold).
        self.queues = (self.queues[1], self.queues[0])
        self.findable = (self.findable[1], self.findable[0])
        for queue in self.queues[0]:
            queue.clear()
        self.findable[0].clear()
        for agent in on_break:
            self.stamp[agent] += 1
            self._fill(agent, now)

    def _evening_done(self, now: int) -> None:
        """The visitors of before the hand-over are all served or gone, and the evening
        roster has finished their chats."""
        for agent, duty in enumerate(self.duty):
            if duty == _FINISHING:
                self.duty[agent] = _OFF
                self.stamp[agent] += 1
                self._touch(agent, now)
        self.findable[1].clear()
        for queue in self.queues[1]:
            queue.clear()

    def _set_duty(self, wanted: list[int], now: int) -> None:
        """Agents no longer wanted go off duty (finishing their chats); new ones come
        on, in order, and take the longest-waiting visitors of their skills. Agents on
        a break stay on it."""
        keep = set(wanted)
        for agent in self.on_duty:
            if agent not in keep:
                if self.duty[agent] == _ON:
                    self._set_free(agent, -1)
                self.duty[agent] = _OFF
                self.stamp[agent] += 1
                self._touch(agent, now)
        for agent in wanted:
            if self.duty[agent] not in (_ON, _AWAY):
                self.duty[agent] = _ON
                self.stamp[agent] += 1
                self._touch(agent, now)
                self._set_free(agent, 1)
                self._fill(agent, now)
        self.on_duty = wanted

    # -- the agents' breaks and states --------------------------------------------------

    def _timer_at(self, time_ms: int, what: int, agent: int, a: int = 0, b: int = 0) -> None:
        heapq.heappush(self.timers, (time_ms, self.seq, what, agent, a, b))
        self.seq += 1

    def _timer(self, timer: tuple[int, int, int, int, int, int]) -> None:
        now, _, what, agent, a, b = timer
        if what == _BREAK:
            self._take_break(agent, now, a, b)
        elif what == _BACK:
            self._back(agent, now, a)
        else:
            self._release(now)

    def _release(self, now: int) -> None:
        """No visitor of before the hand-over is left: the evening roster stops serving,
        and logs out once its chats are over."""
        self.released = True
        for agent, duty in enumerate(self.duty):
            if duty == _FINISHING:
                self._touch(agent, now)

    def _plan_breaks(self, now: int) -> None:
        """The breaks the agents on duty plan in the half hour from ``now`` on."""
        agents = len(self.agent_ids)
        draw = _Draws(self.config.seed, now // BLOCK_MS, 2)
        planned = draw_breaks(draw.uniform(4 * agents), agents, now)
        for agent in self.on_duty:
            plan = planned[agent]
            if plan is not None:
                at, kind, length = plan
                self._timer_at(at, _BREAK, agent, kind, length)

    def _take_break(self, agent: int, now: int, kind: int, length_ms: int) -> None:
        """``agent`` steps away, unless it is not taking visitors or is the last one
        taking them for one of its skills."""
        duty = self.duty
        if duty[agent] != _ON:
            return
        for skill in self.skills_of[agent]:
            if not any(duty[other] == _ON and other != agent for other in self.agents_of[skill]):
                return
        self._set_free(agent, -1)
        duty[agent] = _AWAY
        self.stamp[agent] += 1
        self.reason[agent] = BREAKS[kind][0]
        self.token[agent] += 1
        self._timer_at(now + length_ms, _BACK, agent, self.token[agent])
        self._touch(agent, now)

    def _back(self, agent: int, now: int, token: int) -> None:
        """``agent`` is back from its break, if still on it, and takes visitors again."""
        if self.duty[agent] != _AWAY or self.token[agent] != token:
            return
        self.duty[agent] = _ON
        self.stamp[agent] += 1
        self._touch(agent, now)
        self._set_free(agent, 1)
        self._fill(agent, now)

    def _touch(self, agent: int, now: int) -> None:
        """``agent`` may have changed at ``now``: tell its state once ``now`` is over."""
        if not self.dirty:
            self.dirty_at = now
        if agent not in self.dirty:
            self.dirty.append(agent)

    def _state(self, agent: int) -> Shown:
        duty, active = self.duty[agent], self.active[agent]
        if duty == _ON or (duty == _FINISHING and not self.released):
            return ("online", None, active)
        if duty == _AWAY:
            reason = self.reason[agent]
            return ("backSoon" if reason is None else "away", reason, active)
        return ("away", END_OF_SHIFT, active) if active else LOGGED_OUT

    def _show(self) -> None:
        """The ``agentState`` of each agent whose state changed at ``dirty_at``."""
        time_ms, config = self.dirty_at, self.config
        for agent in self.dirty:
            shown = self._state(agent)
            if shown == self.shown[agent]:
                continue
            self.shown[agent] = shown
            if time_ms >= self.quiet_ms:
                agent_id = self.agent_ids[agent]
                event = agent_state(config.seed, agent_id, time_ms, shown, self.max_chats[agent])
                self.out.append(event)
                self.lags.append(redelivery_lag(config, agent_id, time_ms))
        self.dirty.clear()
        self.dirty_at = _NEVER
