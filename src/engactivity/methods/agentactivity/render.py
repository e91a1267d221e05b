"""The JSON of an answer (AGENTS.md section 5), written as text: an answer of 2,000
agents and 24 intervals holds about 50,000 agent entries, so the numbers are made for
all agents at once and each entry is one string formatting."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import orjson

from engactivity.methods.agentactivity.measure import NO_AGENTS, Int64s, Measured, Texts
from engactivity.methods.agentactivity.members import among
from engactivity.methods.agentactivity.timeline import MEASURES

_VALUE = '{"total":%d,"chatting":%d,"notChatting":%d,"chattingInMaxConcurrency":%d}'
_REASONS_OPEN = '{"reasons":['
_REASONS_CLOSE = '],"id":4,"name":"Away"'
_HEAD = (
    '"%d":[{"id":2,"name":"Online","value":' + _VALUE + "},"
    '{"id":3,"name":"Back in 5","value":' + _VALUE + "}," + _REASONS_OPEN
)
_TAIL = (
    _REASONS_CLOSE + ',"value":' + _VALUE + '},{"id":-1,"name":"Logged in","value":' + _VALUE + "}]"
)
_REASON = '{"id":%s,"value":' + _VALUE + "}"


def seconds(ms: Int64s) -> Int64s:
    """(rows, 3 measures) of ms -> (rows, 4) reported values: total, chatting, not
    chatting, chatting in max concurrency, each in whole seconds."""
    reported: Int64s = (ms[:, :MEASURES] // 1000) @ _REPORTED
    return reported


_REPORTED = np.array([[1, 0, 1, 0], [0, 1, -1, 0], [0, 0, 0, 1]], np.int64)
"""Whole seconds of (total, chatting, full) -> (total, chatting, total - chatting, full)."""


def _reason_texts(made: Inputs, agents: Int64s | None = None) -> dict[int, str]:
    """Per agent (of ``agents``, else all): its entries of away time by reason."""
    rows = made.reason_agents
    picked = np.flatnonzero(among(rows, agents)) if agents is not None else None
    if picked is not None:
        rows = rows[picked]
    if not len(rows):
        return {}
    ids = (made.reason_ids if picked is None else made.reason_ids[picked]).tolist()
    values = made.reason_values if picked is None else made.reason_values[picked]
    names = {name: orjson.dumps(name).decode() for name in set(ids)}
    texts = [_REASON % (names[n], *row) for n, row in zip(ids, values.tolist(), strict=True)]
    bounds = [0, *(np.flatnonzero(rows[1:] != rows[:-1]) + 1).tolist(), len(texts)]
    firsts = rows[bounds[:-1]].tolist()
    return {
        agent: ",".join(texts[lo:hi])
        for agent, lo, hi in zip(firsts, bounds, bounds[1:], strict=False)
    }


def agents_metrics(measured: Measured) -> bytes:
    """An ``agentsMetrics`` object: each agent logged in during the range."""
    return joined_text(entries(measured).values())


def entries(measured: Measured) -> dict[int, str]:
    """Agent id -> its entry's text, for each agent logged in during the range (in the
    order of ``measured``: by agent id)."""
    return rendered(inputs(measured))


@dataclass(frozen=True, slots=True, eq=False)
class Inputs:
    """What the entries of a range are made from, and nothing else: an entry is a
    function of its agent's row and its reasons' rows."""

    agents: Int64s
    """The agents logged in during the range, ascending."""
    values: Int64s
    """(agents, 12): seconds online, back soon and away, 4 values each (``seconds``)."""
    reason_agents: Int64s
    """Per row of away time by reason: its agent (rows by agent, then reason id)."""
    reason_ids: Texts
    reason_values: Int64s
    """(rows, 4): its seconds (``seconds``)."""

    def __len__(self) -> int:
        """About the bytes it holds (what keeping it costs a cache)."""
        return int(self.values.nbytes + self.reason_values.nbytes * 2) + 60 * len(self.reason_ids)


def inputs(measured: Measured) -> Inputs:
    present = measured.ms[:, 0::MEASURES].sum(axis=1) > 0
    ms = measured.ms[present]
    values = seconds(ms.reshape(-1, MEASURES)).reshape(len(ms), 12)  # each state's in turn
    reasons = measured.reasons
    return Inputs(
        measured.agents[present], values, reasons.agents, reasons.ids, seconds(reasons.ms)
    )


def rendered(
    made: Inputs, only: Int64s | None = None, earlier: Reused | None = None
) -> dict[int, str]:
    """The entries of the agents of ``made`` (at positions ``only``: all by default);
    with ``earlier``, their texts of away time by reason come from there."""
    agents, values = made.agents, made.values
    if only is not None:
        agents, values = agents[only], values[only]
    logged_in = values[:, 0:4] + values[:, 4:8] + values[:, 8:12]
    heads = np.column_stack([agents, values[:, :8]]).tolist()
    tails = np.column_stack([values[:, 8:], logged_in]).tolist()
    if earlier is None:
        reasons = _reason_texts(made, None if only is None else agents)
    else:
        reasons = earlier.reasons(made, agents)
    return {
        head[0]: _HEAD % tuple(head) + reasons.get(head[0], "") + _TAIL % tuple(tail)
        for head, tail in zip(heads, tails, strict=True)
    }


def reused(made: Inputs, earlier: Inputs, texts: dict[int, str]) -> dict[int, str]:
    """The entries of ``made``: ``texts`` (the entries of ``earlier``) where an agent's
    inputs are equal, made again where not (``texts`` itself when all are equal). A
    moving clock moves a window's ends a few milliseconds: most agents' whole seconds
    stay the same."""
    if not np.array_equal(made.agents, earlier.agents):
        return rendered(made)
    moved = among(made.agents, _reasons_changed(made, earlier))
    changed = (made.values != earlier.values).any(axis=1) | moved
    if not changed.any():
        return texts  # the same object: what was made of it serves too
    out = dict(texts)  # the same agents: the order holds
    only = np.flatnonzero(changed)
    out.update(rendered(made, only, Reused(texts, moved[only])))
    return out


@dataclass(frozen=True, slots=True)
class Reused:
    """Earlier entries of the same agents, and for each agent made again (in order)
    whether its rows of away time by reason changed since. A moving clock changes an
    online agent's seconds online every second, seldom its reasons: their texts (as
    many as the agent has reasons) are taken from its earlier entry instead of being
    made again."""

    texts: dict[int, str]
    moved: npt.NDArray[np.bool_]

    def reasons(self, made: Inputs, agents: Int64s) -> dict[int, str]:
        """Per agent of ``agents`` (the agents made again, each in ``texts``): its text
        of away time by reason."""
        kept = agents[~self.moved]
        out = {agent: _reasons_in(self.texts[agent]) for agent in kept.tolist()}
        if self.moved.any():
            out.update(_reason_texts(made, agents[self.moved]))
        return out


def _reasons_in(entry: str) -> str:
    """The text of away time by reason inside an entry (between ``_HEAD`` and ``_TAIL``:
    their quotes never occur unescaped inside the reasons' names)."""
    start = entry.index(_REASONS_OPEN) + len(_REASONS_OPEN)
    return entry[start : entry.index(_REASONS_CLOSE, start)]


def _reasons_changed(made: Inputs, earlier: Inputs) -> Int64s:
    """The agents whose rows of away time by reason differ between the two."""
    now, then = made.reason_agents, earlier.reason_agents
    if not np.array_equal(now, then):  # compare the agents with as many rows in each
        agents, where = np.unique(np.concatenate([now, then]), return_inverse=True)
        rows_now = np.bincount(where[: len(now)], minlength=len(agents))
        rows_then = np.bincount(where[len(now) :], minlength=len(agents))
        alike = agents[rows_now == rows_then]
        mine, theirs = among(now, alike), among(then, alike)
        differ = _rows_changed(made, earlier, mine, theirs)
        return np.union1d(agents[rows_now != rows_then], differ)
    return _rows_changed(made, earlier)


def _rows_changed(
    made: Inputs,
    earlier: Inputs,
    mine: npt.NDArray[np.bool_] | None = None,
    theirs: npt.NDArray[np.bool_] | None = None,
) -> Int64s:
    """The agents of the rows ``mine`` of ``made`` that differ from the rows ``theirs``
    of ``earlier`` (as many, of the same agents in the same order; all rows of both
    when not given: the usual, and picking every row is three copies)."""
    agents, values, ids = made.reason_agents, made.reason_values, made.reason_ids
    then_values, then_ids = earlier.reason_values, earlier.reason_ids
    if mine is not None and theirs is not None:
        agents, values, ids = agents[mine], values[mine], ids[mine]
        then_values, then_ids = then_values[theirs], then_ids[theirs]
    differ = (values != then_values).any(axis=1)
    differ |= ids != then_ids
    return np.unique(agents[differ]) if differ.any() else NO_AGENTS


def joined_text(texts: Iterable[str]) -> bytes:
    """An ``agentsMetrics`` object of agent entries (in order)."""
    return "".join(['{"metricsPerAgent":{', ",".join(texts), '},"metricsTotals":[]}']).encode()


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
