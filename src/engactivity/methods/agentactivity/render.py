"""The JSON of an answer (AGENTS.md section 5), written as text: an answer of 2,000
agents and 24 intervals holds about 50,000 agent entries, so the numbers are made for
all agents at once and each entry is one string formatting."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import orjson

from engactivity.methods.agentactivity.measure import Int64s, Measured, Reasons
from engactivity.methods.agentactivity.timeline import MEASURES

_VALUE = '{"total":%d,"chatting":%d,"notChatting":%d,"chattingInMaxConcurrency":%d}'
_HEAD = (
    '"%d":[{"id":2,"name":"Online","value":' + _VALUE + "},"
    '{"id":3,"name":"Back in 5","value":' + _VALUE + '},{"reasons":['
)
_TAIL = (
    '],"id":4,"name":"Away","value":' + _VALUE + "},"
    '{"id":-1,"name":"Logged in","value":' + _VALUE + "}]"
)
_REASON = '{"id":%s,"value":' + _VALUE + "}"


def seconds(ms: Int64s) -> Int64s:
    """(rows, 3 measures) of ms -> (rows, 4) reported values: total, chatting, not
    chatting, chatting in max concurrency, each in whole seconds."""
    total, chatting, full = (ms[:, i] // 1000 for i in range(MEASURES))
    return np.stack([total, chatting, total - chatting, full], axis=1)


def _reasons(reasons: Reasons) -> dict[int, str]:
    """Per agent: its entries of away time by reason (the rows come by agent)."""
    if not reasons.ids:
        return {}
    names = {name: orjson.dumps(name).decode() for name in set(reasons.ids)}
    rows = seconds(reasons.ms).tolist()
    texts = [_REASON % (names[n], *row) for n, row in zip(reasons.ids, rows, strict=True)]
    agents = reasons.agents
    bounds = [0, *(np.flatnonzero(agents[1:] != agents[:-1]) + 1).tolist(), len(texts)]
    firsts = agents[bounds[:-1]].tolist()
    return {
        agent: ",".join(texts[lo:hi])
        for agent, lo, hi in zip(firsts, bounds, bounds[1:], strict=False)
    }


def agents_metrics(measured: Measured) -> bytes:
    """An ``agentsMetrics`` object: each agent logged in during the range."""
    return joined(entries(measured).values())


def entries(measured: Measured) -> dict[int, str]:
    """Agent id -> its entry's text, for each agent logged in during the range (in the
    order of ``measured``: by agent id)."""
    present = measured.ms[:, 0::MEASURES].sum(axis=1) > 0
    agents, ms = measured.agents[present], measured.ms[present]
    states = [seconds(ms[:, i : i + MEASURES]) for i in range(0, 9, MEASURES)]
    logged_in = states[0] + states[1] + states[2]
    heads = np.column_stack([agents, states[0], states[1]]).tolist()
    tails = np.column_stack([states[2], logged_in]).tolist()
    reasons = _reasons(measured.reasons)
    return {
        head[0]: _HEAD % tuple(head) + reasons.get(head[0], "") + _TAIL % tuple(tail)
        for head, tail in zip(heads, tails, strict=True)
    }


def joined(texts: Iterable[str]) -> bytes:
    """An ``agentsMetrics`` object of agent entries (in order)."""
    return ('{"metricsPerAgent":{' + ",".join(texts) + '},"metricsTotals":[]}').encode()


def body(window: bytes, intervals: list[tuple[int, bytes]] | None) -> bytes:
    """The answer from its rendered parts: the window's, and each interval's, newest first
    (joined once: an answer may be tens of megabytes)."""
    if intervals is None:
        return b"".join((b'{"agentsMetrics":', window, b"}"))
    pieces = [b'{"metricsByIntervals":[']
    for n, (end, text) in enumerate(intervals):
        opening = b'{"timestamp":%d,"metricsData":{"agentsMetrics":' % end
        pieces += [b"," + opening if n else opening, text, b"}}"]
    pieces += [b'],"agentsMetrics":', window, b"}"]
    return b"".join(pieces)
