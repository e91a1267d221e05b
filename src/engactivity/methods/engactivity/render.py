"""Rendering engagement activity answers (SEMANTICS.md section 5) as JSON text. Pure.

Large answers hold hundreds of thousands of metric objects, so each block of entries
is produced by one ``%`` format over a repeated template (done in C) rather than by
building a Python dict per object and encoding it afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from engactivity.core.params import Selection
from engactivity.core.timeframe import BUCKET_MS, Span
from engactivity.methods.engactivity.read import Slice
from engactivity.store.memory import Int64s

METRIC_KEYS: tuple[str, ...] = (
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
)
"""Wire names, in the order every answer lists them."""

_METRICS = "{" + ",".join(f'"{key}":%d' for key in METRIC_KEYS) + "}"
_ENTRY = '"%d":' + _METRICS
_SKILL_OPEN = '"%d":{"metricsPerAgent":{'
_SKILL_CLOSE = '},"metricsTotals":' + _METRICS + "}"
_TOTALS_INTERVAL = '{"timestamp":%d,"metricsData":{"metricsTotals":' + _METRICS + "}}"


def _entries(rows: list[list[int]]) -> str:
    """``"id":{metrics}`` for each [id, five counters] row, comma separated."""
    if not rows:
        return ""
    return ",".join([_ENTRY] * len(rows)) % tuple(chain.from_iterable(rows))


def _group_starts(sorted_ids: Int64s) -> Int64s:
    if len(sorted_ids) == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))


def render_skills(piece: Slice) -> dict[int, str]:
    """Each skill's entry of ``metricsPerSkill``: its agents' rows and its totals."""
    order = np.lexsort((piece.agents, piece.skills))
    skills = piece.skills[order]
    has_agent = piece.has_agent[order]
    sums = piece.sums[order]
    starts = _group_starts(skills)
    if not len(starts):
        return {}
    skill_totals = np.add.reduceat(sums, starts, axis=0).tolist()
    agent_counts = np.add.reduceat(has_agent.astype(np.int64), starts).tolist()
    agent_rows = np.column_stack((piece.agents[order][has_agent], sums[has_agent])).tolist()
    texts: dict[int, str] = {}
    pos = 0
    for skill, count, skill_total in zip(
        skills[starts].tolist(), agent_counts, skill_totals, strict=True
    ):
        # One template and one value tuple per skill: its id, its agents' rows (id +
        # five counters each) and its totals.
        template = _SKILL_OPEN + ",".join([_ENTRY] * count) + _SKILL_CLOSE
        values = [skill, *chain.from_iterable(agent_rows[pos : pos + count]), *skill_total]
        texts[skill] = template % tuple(values)
        pos += count
    return texts


def _skills_section(piece: Slice, totals: list[int], texts: dict[int, str] | None) -> list[str]:
    texts = render_skills(piece) if texts is None else texts
    return [
        '"skillsMetricsPerAgent":{"metricsPerSkill":{',
        ",".join(texts[skill] for skill in sorted(texts)),
        '},"metricsTotals":',
        _METRICS % tuple(totals),
        "}",
    ]


def render_agents(piece: Slice) -> dict[int, str]:
    """Each agent's entry of ``agentsMetrics``: its rows summed over the skills."""
    agents = piece.agents[piece.has_agent]
    sums = piece.sums[piece.has_agent]
    order = np.argsort(agents, kind="stable")
    agents, sums = agents[order], sums[order]
    starts = _group_starts(agents)
    if not len(starts):
        return {}
    per_agent = np.add.reduceat(sums, starts, axis=0)
    rows = np.column_stack((agents[starts], per_agent)).tolist()
    return {row[0]: _ENTRY % tuple(row) for row in rows}


def _agents_section(piece: Slice, totals: list[int], texts: dict[int, str] | None) -> list[str]:
    if texts is None:
        agents = piece.agents[piece.has_agent]
        sums = piece.sums[piece.has_agent]
        order = np.argsort(agents, kind="stable")
        agents, sums = agents[order], sums[order]
        starts = _group_starts(agents)
        rows: list[list[int]] = []
        if len(starts):
            per_agent = np.add.reduceat(sums, starts, axis=0)
            rows = np.column_stack((agents[starts], per_agent)).tolist()
        entries = _entries(rows)
    else:
        entries = ",".join(texts[agent] for agent in sorted(texts))
    return [
        '"agentsMetrics":{"metricsPerAgent":{',
        entries,
        '},"metricsTotals":',
        _METRICS % tuple(totals),
        "}",
    ]


Texts = tuple[dict[int, str] | None, dict[int, str] | None]
"""A section's skills' and agents' entries when already rendered (``render_skills``,
``render_agents``)."""


def render_section(
    skills: Selection, agents: Selection, piece: Slice, texts: Texts = (None, None)
) -> bytes:
    """The body of one interval (or of the whole span) as JSON."""
    return "".join(_section(skills, agents, piece, texts)).encode()


def _section(skills: Selection, agents: Selection, piece: Slice, texts: Texts) -> list[str]:
    """A section's text in pieces, joined once by the caller: a section may be megabytes,
    and each concatenation would copy it again."""
    totals = piece.totals
    parts = ["{"]
    if skills is not None:
        parts += _skills_section(piece, totals, texts[0])
    if agents is not None:
        if skills is not None:
            parts.append(",")
        parts += _agents_section(piece, totals, texts[1])
    if skills is None and agents is None:
        parts += ['"metricsTotals":', _METRICS % tuple(totals)]
    parts.append("}")
    return parts


def render_body(
    skills: Selection,
    agents: Selection,
    span: Span,
    whole: Slice,
    intervals: Sequence[Slice | bytes] | None,
    whole_texts: Texts = (None, None),
) -> bytes:
    """The full answer: ``metricsByIntervals`` (newest first) when asked, then the span.

    An interval may be given as its already rendered section (see ``render_section``),
    e.g. from the fragment cache. The answer is joined once from its sections (tens of
    megabytes: each copy of it costs milliseconds).
    """
    body = _section(skills, agents, whole, whole_texts)
    if span.interval_ms is None or intervals is None:
        return "".join(body).encode()
    parts = [b'{"metricsByIntervals":[']
    for k, piece in enumerate(intervals):
        text = piece if isinstance(piece, bytes) else render_section(skills, agents, piece)
        opening = b'{"timestamp":%d,"metricsData":' % span.interval_end(k)
        parts += [b"," + opening if k else opening, text, b"}"]
    parts += [b"],", "".join(body[1:]).encode()]  # the span's section without its "{"
    return b"".join(parts)


def render_totals(span: Span, whole: Slice, interval_totals: Int64s) -> bytes:
    """An answer without filters, with intervals (up to 289): one format for the list."""
    assert span.interval_ms is not None
    ends = span.end_ms - np.arange(len(interval_totals), dtype=np.int64) * span.interval_ms
    timestamps = -(-ends // BUCKET_MS) * BUCKET_MS  # Span.interval_end
    values = np.column_stack((timestamps, interval_totals)).ravel().tolist()
    listed = ",".join([_TOTALS_INTERVAL] * len(interval_totals)) % tuple(values)
    body = _section(None, None, whole, (None, None))
    return "".join(['{"metricsByIntervals":[', listed, "],", *body[1:]]).encode()
