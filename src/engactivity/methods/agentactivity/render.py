"""The JSON of an answer (AGENTS.md section 5), written as text: an answer of 2,000
agents and 24 intervals holds about 50,000 agent entries, so the numbers are made for
all agents at once and each entry is one string formatting."""

from __future__ import annotations

import numpy as np
import orjson

from engactivity.methods.agentactivity.measure import MEASURES, Int64s, Measured, Reasons

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
    """Per timeline: its entries of away time by reason."""
    out: dict[int, list[str]] = {}
    values = seconds(reasons.ms).tolist()
    for owner, reason, row in zip(reasons.owners.tolist(), reasons.ids, values, strict=True):
        out.setdefault(owner, []).append(_REASON % (orjson.dumps(reason).decode(), *row))
    return {owner: ",".join(entries) for owner, entries in out.items()}


def agents_metrics(measured: Measured, agent_ids: Int64s) -> str:
    """An ``agentsMetrics`` object: each agent logged in during the range (``agent_ids``:
    the agent of each timeline)."""
    states = [seconds(measured.ms[:, i : i + MEASURES]) for i in range(0, 9, MEASURES)]
    logged_in = states[0] + states[1] + states[2]
    heads = np.column_stack([agent_ids[measured.agents], states[0], states[1]]).tolist()
    tails = np.column_stack([states[2], logged_in]).tolist()
    reasons = _reasons(measured.reasons)
    parts = [
        _HEAD % tuple(head) + reasons.get(index, "") + _TAIL % tuple(tail)
        for index, head, tail in zip(measured.agents.tolist(), heads, tails, strict=True)
    ]
    return '{"metricsPerAgent":{' + ",".join(parts) + '},"metricsTotals":[]}'


def body(window: str, intervals: list[tuple[int, str]] | None) -> bytes:
    """The answer from its rendered parts: the window's, and each interval's, newest first."""
    if intervals is None:
        return ('{"agentsMetrics":' + window + "}").encode()
    by_interval = ",".join(
        f'{{"timestamp":{end},"metricsData":{{"agentsMetrics":{text}}}}}' for end, text in intervals
    )
    return ('{"metricsByIntervals":[' + by_interval + '],"agentsMetrics":' + window + "}").encode()
