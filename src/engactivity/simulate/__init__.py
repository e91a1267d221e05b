"""Synthetic traffic of a contact centre: history, live feed, and the demo.

The model (all times UTC unless ``utc_offset_hours`` moves the day):

- New chats arrive as a Poisson process whose rate follows a daily curve: quiet at
  night (about a quarter of the daily average), two humps in business hours (over
  twice the average from 10:00 to 11:30 and around 15:00), a small evening bump.
  ``rate`` is the average number of new chats per minute *over a whole day*, so a day
  holds about ``rate * 1440`` chats.
- Skills have Zipf-like popularity (skill 1 the busiest). Agents serve 1 to 4 skills,
  take at most 2 or 3 chats at once and belong to a few agent groups; a staffing plan
  puts agents on duty following the daily curve (``staff.py``), but at the peaks fewer
  than the traffic needs (``peak_staffing``), so queues build up there and drain after.
- Each visitor enters its skill's queue (``queued``) and is connected to the least busy
  agent on duty with a free slot (``connected``, with ``waitTime`` and
  ``agentGroupId``), at once or, when there is none, as soon as a slot frees, first
  come first served per skill. A visitor whose patience (lognormal, median 3 min) runs
  out first gives up: ``abandoned`` with its ``waitTime``, then the chat's ``closed``,
  non-interactive, without agent and with ``handlingTime`` 0. One visitor in 200 never
  gets a skill (skill -1): nobody can take it, it gives up.
- A connected chat ends with ``closed`` on the same skill and agent, ``handlingTime``
  later. Interactive chats take a lognormal time with median 7 min (mean about 8 min,
  long right tail, capped at 2 h); non-interactive ones (``non_interactive_share`` of
  the connected chats, the customer never wrote back) median 75 s.
- Every ``queue_state_period_s`` seconds (default 10), each skill's queue is sampled
  (``queueState``): the visitors queued and not yet connected or gone, and the free
  slots of the agents on duty serving the skill.
- Agents tell their state (``agentState``) whenever it or their number of open chats
  changes: ``online`` while on duty by the staffing plan, now and then ``away`` on a
  break (reason ``1`` Break, ``2`` Lunch, ``3`` Meeting, ``4`` Training) or
  ``backSoon``, taking no new chat meanwhile; off duty ``away`` (``5``, end of shift)
  until their last chat closes, then ``loggedOut`` (``agents.py``, ``model.py``).
- Each event is delivered a second time, same ``eventId``, with probability
  ``duplicate_share``, between half a second and two minutes after the first time.

Everything is drawn from random generators seeded by the seed and the day, and the
queues and agents start afresh at every nightly hand-over (``staff.py``): the same
seed always gives the same events for the same minutes, however the time range is cut
into windows. That makes backfill and live mode one code path and re-running a
simulation idempotent (the second run's events are all duplicates).
"""

from engactivity.simulate.config import (
    DAY_MS,
    HOUR_MS,
    MAX_BACKFILL_MS,
    MINUTE_MS,
    QUEUE_STATE_PERIODS_S,
    SECOND_MS,
    SimConfig,
    daily_factor,
)
from engactivity.simulate.run import (
    DEMO_BATCH,
    DEMO_CONFIG,
    ZERO,
    Counters,
    DemoHandle,
    Simulation,
    SimulationReport,
    add,
    engagement_totals,
    start_demo,
)
from engactivity.simulate.staff import FIRST_AGENT_ID, Layout, Staffing, build_layout
from engactivity.simulate.stream import Delivery, TrafficStream, generate_events

__all__ = [
    "DAY_MS",
    "DEMO_BATCH",
    "DEMO_CONFIG",
    "FIRST_AGENT_ID",
    "HOUR_MS",
    "MAX_BACKFILL_MS",
    "MINUTE_MS",
    "QUEUE_STATE_PERIODS_S",
    "SECOND_MS",
    "ZERO",
    "Counters",
    "Delivery",
    "DemoHandle",
    "Layout",
    "SimConfig",
    "Simulation",
    "SimulationReport",
    "Staffing",
    "TrafficStream",
    "add",
    "build_layout",
    "daily_factor",
    "engagement_totals",
    "generate_events",
    "start_demo",
]
