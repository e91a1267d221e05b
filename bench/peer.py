"""The naive peer: the same query API as a user could write it in an afternoon.

Raw events sit in one DuckDB table (``events``, built by :mod:`bench.data`); every
request runs one query over them and shapes the answer in Python; the app is
FastAPI served by uvicorn, like engactivity. It reads SEMANTICS.md and QUEUE.md, not
engactivity's code, so agreeing answers mean something. It validates nothing beyond
what the benchmark sends.

Methods: engactivity, queuehealth, queuestate, sla and agentactivity (AGENTS.md: each
agent's timeline by ``LEAD`` over its ``agentState`` events, clipped to the window and to
each interval, summed in SQL; seconds, "Logged in" and the shape in Python).

Run: ``python -m bench.peer --db peer.duckdb --port 8091 --now-ms 1795536150000``.
"""

from __future__ import annotations

import argparse
import bisect
import threading
from fractions import Fraction
from typing import Any

import duckdb
import orjson
import uvicorn
from fastapi import Body, FastAPI
from starlette.responses import Response

B = 300_000
MIN = 60_000
KEYS = (
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
)
ZERO = (0, 0, 0, 0, 0)
Metrics = tuple[int, int, int, int, int]

SQL = """
SELECT {k} AS k, {skill} AS skill, {agent} AS agent,
       count(*) FILTER (WHERE type = 'closed' AND interactive),
       count(*) FILTER (WHERE type = 'closed' AND NOT interactive),
       coalesce(sum(handling_time) FILTER (WHERE type = 'closed' AND interactive), 0),
       coalesce(sum(handling_time) FILTER (WHERE type = 'closed' AND NOT interactive), 0),
       count(*) FILTER (WHERE type = 'connected')
FROM events
WHERE account = $account AND time >= $lo AND time < $hi
  AND type IN ('connected', 'closed') {filters}
GROUP BY ALL
"""
"""Engagement activity counts connected and closed events only (other types, e.g. the
queue's, must not make a skill or an agent appear)."""


def parse_ids(value: str | None) -> list[int] | str | None:
    """``None`` when absent, ``"all"``, or the list of ids."""
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "all":
        return "all"
    return sorted({int(item) for item in value.split(",")})


def add(a: Metrics, b: Metrics) -> Metrics:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def metrics(m: Metrics) -> dict[str, int]:
    return dict(zip(KEYS, m, strict=True))


class Section:
    def __init__(self) -> None:
        self.totals: Metrics = ZERO
        self.skills: dict[int, Metrics] = {}
        self.skill_agents: dict[int, dict[int, Metrics]] = {}
        self.agents: dict[int, Metrics] = {}

    def add(self, skill: int, agent: int | None, m: Metrics) -> None:
        self.totals = add(self.totals, m)
        self.skills[skill] = add(self.skills.get(skill, ZERO), m)
        if agent is not None:
            per = self.skill_agents.setdefault(skill, {})
            per[agent] = add(per.get(agent, ZERO), m)
            self.agents[agent] = add(self.agents.get(agent, ZERO), m)

    def body(self, with_skills: bool, with_agents: bool) -> dict[str, Any]:
        if not with_skills and not with_agents:
            return {"metricsTotals": metrics(self.totals)}
        out: dict[str, Any] = {}
        if with_skills:
            out["skillsMetricsPerAgent"] = {
                "metricsPerSkill": {
                    str(s): {
                        "metricsPerAgent": {
                            str(a): metrics(m)
                            for a, m in sorted(self.skill_agents.get(s, {}).items())
                        },
                        "metricsTotals": metrics(t),
                    }
                    for s, t in sorted(self.skills.items())
                },
                "metricsTotals": metrics(self.totals),
            }
        if with_agents:
            out["agentsMetrics"] = {
                "metricsPerAgent": {str(a): metrics(m) for a, m in sorted(self.agents.items())},
                "metricsTotals": metrics(self.totals),
            }
        return out


def ceil_b(ms: int) -> int:
    return -(-ms // B) * B


def answer(
    con: duckdb.DuckDBPyConnection,
    now: int,
    account: str,
    timeframe: int,
    skill_ids: str | None,
    agent_ids: str | None,
    interval: int | None,
) -> dict[str, Any]:
    last = now // B
    first = (now - timeframe * MIN) // B
    lo, hi = first * B, (last + 1) * B
    skills = parse_ids(skill_ids)
    agents = parse_ids(agent_ids)
    filters = ""
    if isinstance(skills, list):
        filters += f" AND skill IN ({','.join(map(str, skills))})"
    if agents is not None:
        filters += " AND agent IS NOT NULL"
        if isinstance(agents, list):
            filters += f" AND agent IN ({','.join(map(str, agents))})"
    if interval:
        # interval k holds the buckets starting in [E(k+1), E(k)), E(k) = ceilB(E0 - k*I)
        k = f"({hi} - (time // {B}) * {B} - 1) // {interval * MIN}"
        count = 1
        while ceil_b(hi - count * interval * MIN) > lo:
            count += 1
    else:
        k, count = "0", 1
    # Group by only what the answer shows: skills need their agents; totals need neither.
    skill_col = "skill" if skills is not None else "-1"
    agent_col = "agent" if skills is not None or agents is not None else "NULL::BIGINT"
    sql = SQL.format(k=k, skill=skill_col, agent=agent_col, filters=filters)
    rows = con.execute(sql, {"account": account, "lo": lo, "hi": hi}).fetchall()
    whole = Section()
    parts = [Section() for _ in range(count)]
    for index, skill, agent, *values in rows:
        m: Metrics = (values[0], values[1], int(values[2]), int(values[3]), values[4])
        whole.add(skill, agent, m)
        parts[index].add(skill, agent, m)
    with_skills, with_agents = skills is not None, agents is not None
    body = whole.body(with_skills, with_agents)
    if not interval:
        return body
    return {
        "metricsByIntervals": [
            {
                "timestamp": ceil_b(hi - k_ * interval * MIN),
                "metricsData": part.body(with_skills, with_agents),
            }
            for k_, part in enumerate(parts)
        ],
        **body,
    }


# -- queue health, queue state, SLA (QUEUE.md) -------------------------------------------------

CURRENT_MS = 300_000
DEFAULT_HISTOGRAM = (0, 15, 30, 45, 60, 90, 120)

# One statement: the cells of the span (k >= 0, per interval and skill) and, as k = -1,
# each skill's newest queueState sample of the last five minutes (any bucket).
QUEUE_SQL = """
SELECT {k} AS k, skill,
       count(*) FILTER (WHERE type = 'queued'),
       count(*) FILTER (WHERE type = 'connected'),
       coalesce(sum(coalesce(wait_time, 0)) FILTER (WHERE type = 'connected'), 0),
       count(*) FILTER (WHERE type = 'abandoned'),
       coalesce(sum(coalesce(wait_time, 0)) FILTER (WHERE type = 'abandoned'), 0),
       coalesce(sum(queue_size) FILTER (WHERE type = 'queueState'), 0),
       count(*) FILTER (WHERE type = 'queueState'),
       min(queue_size) FILTER (WHERE type = 'queueState'),
       max(queue_size) FILTER (WHERE type = 'queueState'),
       coalesce(sum(available_slots) FILTER (WHERE type = 'queueState'), 0),
       count(*) FILTER (WHERE type = 'queueState'),
       min(available_slots) FILTER (WHERE type = 'queueState'),
       max(available_slots) FILTER (WHERE type = 'queueState')
FROM events
WHERE account = $account AND time >= $lo AND time < $hi
  AND type IN ('queued', 'connected', 'abandoned', 'queueState') {filters}
GROUP BY ALL
UNION ALL
SELECT -1, skill, NULL, NULL, NULL, NULL, NULL, queue_size, NULL, NULL, NULL,
       available_slots, NULL, NULL, NULL
FROM events
WHERE account = $account AND type = 'queueState' AND time > $now - {current} {filters}
QUALIFY row_number() OVER (PARTITION BY skill ORDER BY time DESC, event_id DESC) = 1
"""

STATE_SQL = """
SELECT skill, available_slots, queue_size
FROM events
WHERE account = $account AND type = 'queueState' AND time > $now - {current} {filters}
QUALIFY row_number() OVER (PARTITION BY skill ORDER BY time DESC, event_id DESC) = 1
"""

SLA_SQL = """
SELECT coalesce(wait_time, 0) AS wait, count(*)
FROM events
WHERE account = $account AND type = 'connected' AND time >= $lo AND time < $hi {filters}
GROUP BY ALL
"""


def half_up(x: Fraction) -> int:
    """``x`` (>= 0) rounded half up to an integer, exactly."""
    return int(x + Fraction(1, 2))


class Cell:
    """What QUEUE.md section 1 keeps, summed over buckets (and over skills for totals)."""

    def __init__(self) -> None:
        self.entered = self.connected = self.answer = self.abandoned = self.abandon = 0
        self.qs_sum = self.qs_count = self.slots_sum = self.slots_count = 0
        self.qs_min: int | None = None
        self.qs_max: int | None = None
        self.slots_min: int | None = None
        self.slots_max: int | None = None


def gauge_min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def gauge_max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def merge(into: Cell, row: list[Any]) -> None:
    """Add one grouped row (entered .. slots max) to a skill's cell."""
    into.entered += row[0]
    into.connected += row[1]
    into.answer += int(row[2])
    into.abandoned += row[3]
    into.abandon += int(row[4])
    into.qs_sum += int(row[5])
    into.qs_count += row[6]
    into.qs_min = gauge_min(into.qs_min, row[7])
    into.qs_max = gauge_max(into.qs_max, row[8])
    into.slots_sum += int(row[9])
    into.slots_count += row[10]
    into.slots_min = gauge_min(into.slots_min, row[11])
    into.slots_max = gauge_max(into.slots_max, row[12])


def total_of(cells: list[Cell]) -> Cell:
    """Section 2.2: sums of everything; min and max are the sums of the skills' own, over
    the skills that have samples."""
    t = Cell()
    for c in cells:
        t.entered += c.entered
        t.connected += c.connected
        t.answer += c.answer
        t.abandoned += c.abandoned
        t.abandon += c.abandon
        t.qs_sum += c.qs_sum
        t.qs_count += c.qs_count
        t.slots_sum += c.slots_sum
        t.slots_count += c.slots_count
        if c.qs_count:
            t.qs_min = (t.qs_min or 0) + (c.qs_min or 0)
            t.qs_max = (t.qs_max or 0) + (c.qs_max or 0)
        if c.slots_count:
            t.slots_min = (t.slots_min or 0) + (c.slots_min or 0)
            t.slots_max = (t.slots_max or 0) + (c.slots_max or 0)
    return t


def queue_metrics(c: Cell, current: tuple[int, int]) -> dict[str, Any]:
    """The twenty metrics of section 2.1; ``current`` is (queue size, slots), -1 for none."""
    rate_divisor = c.abandoned + c.connected
    return {
        "totalTimeToAnswer": c.answer,
        "enteredQEng": c.entered,
        "avgTimeToAnswer": half_up(Fraction(c.answer, c.connected)) if c.connected else 0,
        "abandonmentRate": (
            half_up(Fraction(100 * c.abandoned, rate_divisor)) / 100 if rate_divisor else 0
        ),
        "abandonedEng": c.abandoned,
        "connectedEng": c.connected,
        "totalTimeToAbandon": c.abandon,
        "avgTimeToAbandon": half_up(Fraction(c.abandon, c.abandoned)) if c.abandoned else 0,
        "maxQueueSize": c.qs_max if c.qs_count else -1,
        "minQueueSize": c.qs_min if c.qs_count else -1,
        "averageQueueSize": c.qs_sum / c.qs_count if c.qs_count else -1,
        "maxAvailableSlots": c.slots_max if c.slots_count else -1,
        "minAvailableSlots": c.slots_min if c.slots_count else -1,
        "averageAvailableSlots": c.slots_sum / c.slots_count if c.slots_count else -1,
        "currentQueueSize": current[0],
        "currentAvailableSlots": current[1],
        "queueSizeSum": c.qs_sum,
        "queueSizeCount": c.qs_count,
        "availableSlotsSum": c.slots_sum,
        "availableSlotsCount": c.slots_count,
    }


NO_CURRENT = (-1, -1)


def sum_current(values: list[tuple[int, int]]) -> tuple[int, int]:
    """Sums of the values that are not -1; -1 when there are none."""
    known = [v for v in values if v != NO_CURRENT]
    if not known:
        return NO_CURRENT
    return sum(v[0] for v in known), sum(v[1] for v in known)


def skill_filter(skills: list[int] | str | None, column: str = "skill") -> str:
    if isinstance(skills, list):
        return f" AND {column} IN ({','.join(map(str, skills))})"
    return ""


def queue_health(
    con: duckdb.DuckDBPyConnection,
    now: int,
    account: str,
    timeframe: int,
    skill_ids: str | None,
    interval: int | None,
) -> dict[str, Any]:
    last = now // B
    first = (now - timeframe * MIN) // B
    lo, hi = first * B, (last + 1) * B
    skills = parse_ids(skill_ids)
    if interval:
        k = f"({hi} - (time // {B}) * {B} - 1) // {interval * MIN}"
        count = 1
        while ceil_b(hi - count * interval * MIN) > lo:
            count += 1
    else:
        k, count = "0", 1
    sql = QUEUE_SQL.format(k=k, filters=skill_filter(skills), current=CURRENT_MS)
    rows = con.execute(sql, {"account": account, "lo": lo, "hi": hi, "now": now}).fetchall()
    whole: dict[int, Cell] = {}
    parts: list[dict[int, Cell]] = [{} for _ in range(count)]
    current: dict[int, tuple[int, int]] = {}
    for index, skill, *values in rows:
        if index < 0:
            current[skill] = (values[5], values[9])
            continue
        merge(whole.setdefault(skill, Cell()), values)
        merge(parts[index].setdefault(skill, Cell()), values)

    def body(cells: dict[int, Cell], with_current: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if skills is not None:
            out["skillsMetrics"] = {
                str(s): queue_metrics(c, current.get(s, NO_CURRENT) if with_current else NO_CURRENT)
                for s, c in sorted(cells.items())
            }
        if not with_current:
            totals_current = NO_CURRENT
        elif isinstance(skills, list):
            totals_current = sum_current([current.get(s, NO_CURRENT) for s in skills])
        else:
            totals_current = sum_current(list(current.values()))
        out["metricsTotals"] = queue_metrics(total_of(list(cells.values())), totals_current)
        return out

    whole_body = body(whole, True)
    if not interval:
        return whole_body
    return {
        "metricsByIntervals": [
            {"timestamp": ceil_b(hi - k_ * interval * MIN), "metricsData": body(part, False)}
            for k_, part in enumerate(parts)
        ],
        **whole_body,
    }


def queue_state(
    con: duckdb.DuckDBPyConnection, now: int, account: str, skill_ids: str | None
) -> dict[str, Any]:
    skills = parse_ids(skill_ids)
    sql = STATE_SQL.format(filters=skill_filter(skills), current=CURRENT_MS)
    rows = con.execute(sql, {"account": account, "now": now}).fetchall()
    current = {skill: (slots, size) for skill, slots, size in rows}
    if isinstance(skills, list):
        listed = {s: current.get(s, NO_CURRENT) for s in skills}
    else:
        listed = dict(sorted(current.items()))
    slots, size = sum_current(list(listed.values()))
    return {
        "skills": {
            str(s): {"currentAvailableSlots": v[0], "currentQueueSize": v[1]}
            for s, v in listed.items()
        },
        "totals": {"currentAvailableSlots": slots, "currentQueueSize": size},
    }


def sla(
    con: duckdb.DuckDBPyConnection,
    now: int,
    account: str,
    timeframe: int,
    skill_ids: str | None,
    group_ids: str | None,
    histogram: str | None,
) -> dict[str, Any]:
    last = now // B
    first = (now - timeframe * MIN) // B
    lo, hi = first * B, (last + 1) * B
    filters = skill_filter(parse_ids(skill_ids))
    filters += skill_filter(parse_ids(group_ids), "coalesce(group_id, -1)")
    if histogram is None or not histogram.strip():
        edges = list(DEFAULT_HISTOGRAM)
    else:
        edges = sorted({0, *(int(item) for item in histogram.split(","))})
    rows = con.execute(
        SLA_SQL.format(filters=filters), {"account": account, "lo": lo, "hi": hi}
    ).fetchall()
    chats = [0] * len(edges)
    for wait, count in rows:
        chats[bisect.bisect_right(edges, wait) - 1] += count
    total = sum(chats)
    out: dict[str, Any] = {}
    accumulated = 0
    for edge, count in zip(edges, chats, strict=True):
        accumulated += count
        out[str(edge)] = {
            "accumulated": accumulated / total if total else 0,
            "percentageFromTotal": count / total if total else 0,
            "chats": count,
        }
    return {"slaDataRange": out}


# -- agent activity (AGENTS.md) -------------------------------------------------------------

AGENT_STATES = (("online", 2, "Online"), ("backSoon", 3, "Back in 5"), ("away", 4, "Away"))

# One statement: each agentState lasts until the agent's next one by (time, eventId) (the
# last one until now); each piece of it inside a range (the window, k = -1, or interval k)
# is summed per agent, state and reason: in all, while chatting, at the chat limit.
AGENT_SQL = """
WITH timeline AS (
    SELECT agent, state, reason_id, active_chats, max_chats, time AS t0,
           coalesce(lead(time) OVER (PARTITION BY agent ORDER BY time, event_id), $now) AS t1
    FROM events
    WHERE account = $account AND type = 'agentState' {filters}
),
ranges(k, lo, hi) AS (VALUES {ranges}),
pieces AS (
    SELECT k, agent, state, reason_id, active_chats, max_chats,
           least(t1, hi) - greatest(t0, lo) AS ms
    FROM timeline JOIN ranges ON t0 < hi AND t1 > lo
    WHERE state <> 'loggedOut'
)
SELECT k, agent, state, reason_id, sum(ms),
       coalesce(sum(ms) FILTER (WHERE active_chats > 0), 0),
       coalesce(sum(ms) FILTER (WHERE max_chats IS NOT NULL AND active_chats >= max_chats), 0)
FROM pieces
GROUP BY ALL
HAVING sum(ms) > 0
"""

Ms = list[int]
"""Milliseconds: [in all, chatting, chatting at the chat limit]."""


def agent_ranges(now: int, timeframe: int, interval: int | None) -> list[tuple[int, int, int, int]]:
    """(k, lo, hi, Ek): the window as k = -1, then interval k = 0, 1, ... (section 4)."""
    start = now - timeframe * MIN
    out = [(-1, start, now, now)]
    if interval:
        e0 = (now // B + 1) * B
        k = 0
        while (end := ceil_b(e0 - k * interval * MIN)) > start:
            lo = max(ceil_b(e0 - (k + 1) * interval * MIN), start)
            out.append((k, lo, min(end, now), end))
            k += 1
    return out


class AgentTimes:
    """An agent's milliseconds in a range: per state, and per away reason."""

    def __init__(self) -> None:
        self.states: dict[str, Ms] = {s: [0, 0, 0] for s, _, _ in AGENT_STATES}
        self.reasons: dict[str, Ms] = {}

    def add(self, state: str, reason: str | None, ms: Ms) -> None:
        into = self.states[state]
        for i in range(3):
            into[i] += ms[i]
        if state == "away" and reason is not None:
            self.reasons[reason] = ms


def seconds(ms: Ms) -> dict[str, int]:
    total, chatting = ms[0] // 1000, ms[1] // 1000
    return {
        "total": total,
        "chatting": chatting,
        "notChatting": total - chatting,
        "chattingInMaxConcurrency": ms[2] // 1000,
    }


def agent_entry(times: AgentTimes) -> list[dict[str, Any]]:
    """The four objects of an agent (section 5); Logged in adds up the reported three."""
    entry: list[dict[str, Any]] = []
    logged_in = dict.fromkeys(("total", "chatting", "notChatting", "chattingInMaxConcurrency"), 0)
    for state, number, name in AGENT_STATES:
        value = seconds(times.states[state])
        for key in logged_in:
            logged_in[key] += value[key]
        item: dict[str, Any] = {"id": number, "name": name, "value": value}
        if state == "away":
            reasons = sorted(times.reasons.items())
            item = {"reasons": [{"id": r, "value": seconds(ms)} for r, ms in reasons], **item}
        entry.append(item)
    entry.append({"id": -1, "name": "Logged in", "value": logged_in})
    return entry


def agents_metrics(agents: dict[int, AgentTimes]) -> dict[str, Any]:
    return {
        "metricsPerAgent": {str(a): agent_entry(t) for a, t in sorted(agents.items())},
        "metricsTotals": [],
    }


def agent_activity(
    con: duckdb.DuckDBPyConnection,
    now: int,
    account: str,
    timeframe: int,
    agent_ids: str,
    interval: int | None,
) -> dict[str, Any]:
    ranges = agent_ranges(now, timeframe, interval)
    values = ", ".join(f"({k}, {lo}, {hi})" for k, lo, hi, _ in ranges)
    filters = skill_filter(parse_ids(agent_ids), "agent")
    sql = AGENT_SQL.format(filters=filters, ranges=values)
    rows = con.execute(sql, {"account": account, "now": now}).fetchall()
    parts: dict[int, dict[int, AgentTimes]] = {k: {} for k, *_ in ranges}
    for k, agent, state, reason, total, chatting, maxc in rows:
        times = parts[k].setdefault(agent, AgentTimes())
        times.add(state, reason, [int(total), int(chatting), int(maxc)])
    body: dict[str, Any] = {"agentsMetrics": agents_metrics(parts[-1])}
    if not interval:
        return body
    intervals = [
        {"timestamp": end, "metricsData": {"agentsMetrics": agents_metrics(parts[k])}}
        for k, _, _, end in ranges[1:]
    ]
    return {"metricsByIntervals": intervals, **body}


def json_response(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def create_app(db: str, now: int) -> FastAPI:
    app = FastAPI()
    root = duckdb.connect(db, read_only=True)
    local = threading.local()

    def connection() -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection | None = getattr(local, "con", None)
        if con is None:
            con = local.con = root.cursor()
        return con

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/operations/api/account/{accountId}/engactivity")
    def engactivity(
        accountId: str,
        timeframe: int,
        v: int,
        skillIds: str | None = None,
        agentIds: str | None = None,
        interval: int | None = None,
    ) -> Response:
        body = answer(connection(), now, accountId, timeframe, skillIds, agentIds, interval)
        return json_response(body)

    @app.get("/operations/api/account/{accountId}/queuehealth")
    def queuehealth(
        accountId: str,
        timeframe: int,
        v: int,
        skillIds: str | None = None,
        interval: int | None = None,
    ) -> Response:
        body = queue_health(connection(), now, accountId, timeframe, skillIds, interval)
        return json_response(body)

    @app.get("/operations/api/account/{accountId}/queuestate")
    def queuestate(accountId: str, v: int, skillIds: str | None = None) -> Response:
        return json_response(queue_state(connection(), now, accountId, skillIds))

    @app.get("/operations/api/account/{accountId}/sla")
    def sla_histogram(
        accountId: str,
        timeframe: int,
        v: int,
        skillIds: str | None = None,
        groupIds: str | None = None,
        histogram: str | None = None,
    ) -> Response:
        body = sla(connection(), now, accountId, timeframe, skillIds, groupIds, histogram)
        return json_response(body)

    @app.get("/operations/api/account/{accountId}/agentactivity")
    def agentactivity(
        accountId: str, timeframe: int, v: int, agentIds: str, interval: int | None = None
    ) -> Response:
        body = agent_activity(connection(), now, accountId, timeframe, agentIds, interval)
        return json_response(body)

    @app.post("/operations/api/account/{accountId}/agentactivity")
    def agentactivity_post(accountId: str, form: dict[str, Any] = Body()) -> Response:
        """The POST form: the same parameters in a JSON object, strings or numbers."""
        interval = form.get("interval")
        body = agent_activity(
            connection(),
            now,
            accountId,
            int(form["timeframe"]),
            str(form["agentIds"]),
            int(interval) if interval is not None else None,
        )
        return json_response(body)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--now-ms", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep-alive-s", type=int, default=5, help="uvicorn's default: 5")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.db, args.now_ms),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=args.keep_alive_s,
    )


if __name__ == "__main__":
    main()
