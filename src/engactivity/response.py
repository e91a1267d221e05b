"""Shaping engactivity answers (SEMANTICS.md section 5). Pure.

Input is a list of already-filtered, already-summed rollup rows
``(interval index, skill id, agent id or None, counters)``; output is the JSON
document of the reference, with every id a string key and every metrics object
listing the five counters in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engactivity.metrics import METRIC_KEYS, ZERO, Counters, add
from engactivity.query import EngActivityQuery
from engactivity.timeframe import Span

Row = tuple[int, int, int | None, Counters]
"""(interval index, skill id, agent id or None for chats without an agent, counters)."""

Json = dict[str, Any]


def metrics_json(counters: Counters) -> Json:
    return dict(zip(METRIC_KEYS, counters, strict=True))


def _by_id(values: dict[int, Counters]) -> Json:
    return {str(key): metrics_json(values[key]) for key in sorted(values)}


class _Section:
    """Accumulates one interval (or the whole span) of the answer."""

    __slots__ = ("agent_totals", "skill_agents", "skill_totals", "totals")

    def __init__(self) -> None:
        self.totals: Counters = ZERO
        self.skill_totals: dict[int, Counters] = {}
        self.skill_agents: dict[int, dict[int, Counters]] = {}
        self.agent_totals: dict[int, Counters] = {}

    def add(self, skill: int, agent: int | None, counters: Counters) -> None:
        self.totals = add(self.totals, counters)
        self.skill_totals[skill] = add(self.skill_totals.get(skill, ZERO), counters)
        if agent is not None:
            agents = self.skill_agents.setdefault(skill, {})
            agents[agent] = add(agents.get(agent, ZERO), counters)
            self.agent_totals[agent] = add(self.agent_totals.get(agent, ZERO), counters)

    def render(self, query: EngActivityQuery) -> Json:
        with_skills = query.skills is not None
        with_agents = query.agents is not None
        if not with_skills and not with_agents:
            return {"metricsTotals": metrics_json(self.totals)}
        body: Json = {}
        if with_skills:
            per_skill = {
                str(skill): {
                    "metricsPerAgent": _by_id(self.skill_agents.get(skill, {})),
                    "metricsTotals": metrics_json(self.skill_totals[skill]),
                }
                for skill in sorted(self.skill_totals)
            }
            body["skillsMetricsPerAgent"] = {
                "metricsPerSkill": per_skill,
                "metricsTotals": metrics_json(self.totals),
            }
        if with_agents:
            body["agentsMetrics"] = {
                "metricsPerAgent": _by_id(self.agent_totals),
                "metricsTotals": metrics_json(self.totals),
            }
        return body


def shape(query: EngActivityQuery, span: Span, rows: Iterable[Row]) -> Json:
    """The full answer for ``query`` over ``span`` from the selected rows."""
    whole = _Section()
    intervals = [_Section() for _ in range(span.interval_count)] if query.interval else []
    for k, skill, agent, counters in rows:
        whole.add(skill, agent, counters)
        if intervals:
            intervals[k].add(skill, agent, counters)
    body = whole.render(query)
    if not intervals:
        return body
    by_interval = [
        {"timestamp": span.interval_end(k), "metricsData": section.render(query)}
        for k, section in enumerate(intervals)
    ]
    return {"metricsByIntervals": by_interval, **body}
