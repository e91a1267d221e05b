"""The JSON of an answer (AGENTS.md section 5), written as text: an answer of 2,000
agents and 24 intervals holds about 50,000 entries."""

from __future__ import annotations

import orjson

from engactivity.methods.agentactivity.measure import MEASURES, Int64s, Measured

_VALUE = '{"total":%d,"chatting":%d,"notChatting":%d,"chattingInMaxConcurrency":%d}'
_AGENT = (
    '"%d":[{"id":2,"name":"Online","value":' + _VALUE + "},"
    '{"id":3,"name":"Back in 5","value":' + _VALUE + "},"
    '{"reasons":[%s],"id":4,"name":"Away","value":' + _VALUE + "},"
    '{"id":-1,"name":"Logged in","value":' + _VALUE + "}]"
)


def seconds(ms: Int64s) -> list[int]:
    """One state's reported values from its (total, chatting, at full capacity) ms."""
    total, chatting, full = (int(v) // 1000 for v in ms[:MEASURES])
    return [total, chatting, total - chatting, full]


def _reasons(reasons: list[tuple[str, Int64s]]) -> str:
    return ",".join(
        '{"id":' + orjson.dumps(reason).decode() + ',"value":' + _VALUE % tuple(seconds(ms)) + "}"
        for reason, ms in reasons
    )


def agents_metrics(measured: Measured, agent_ids: Int64s) -> str:
    """An ``agentsMetrics`` object: each agent logged in during the range (``agent_ids``:
    the agent of each timeline)."""
    parts = []
    ids = agent_ids[measured.agents].tolist()
    for row, (index, ms) in enumerate(zip(measured.agents.tolist(), measured.ms, strict=True)):
        online, back, away = (seconds(ms[i : i + MEASURES]) for i in range(0, 9, MEASURES))
        logged_in = [a + b + c for a, b, c in zip(online, back, away, strict=True)]
        reasons = _reasons(measured.reasons.get(index, []))
        parts.append(_AGENT % (ids[row], *online, *back, reasons, *away, *logged_in))
    return '{"metricsPerAgent":{' + ",".join(parts) + '},"metricsTotals":[]}'


def body(window: str, intervals: list[tuple[int, str]] | None) -> bytes:
    """The answer from its rendered parts: the window's, and each interval's, newest first."""
    if intervals is None:
        return ('{"agentsMetrics":' + window + "}").encode()
    by_interval = ",".join(
        f'{{"timestamp":{end},"metricsData":{{"agentsMetrics":{text}}}}}' for end, text in intervals
    )
    return ('{"metricsByIntervals":[' + by_interval + '],"agentsMetrics":' + window + "}").encode()
