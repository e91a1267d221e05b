"""The live benchmark's clients: producers and markers in the harness's asyncio process,
pollers and subscribers (the wallboards) in :data:`WALLBOARD_PROCESSES` others, so that
the clients' own CPU does not hold up what they measure (:mod:`bench.live` starts the
servers and reports).

Every client records what it saw in a :class:`Record`; nothing is summarized here.
Times are ``time.perf_counter()``, which on Linux is the system's monotonic clock, the
same in every process: a wallboard's arrival and a marker's acknowledgement compare.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import orjson

from bench.run import Query
from bench.sse import EventReader

MARKER_SKILL = 777_777_777
"""The skill of the marker batches: no account of the standard day has it."""
MARKER_AGENT = 777_777_777
MARKED = ("Q3", "Q5", "QH1", "QH3", "QS1")
"""The questions whose answers show the marker: those that list every skill of the
large account (engagement activity: its ``connected`` count; queue health and queue
state: its current queue size, which the n-th marker sets to n)."""
POLL_PERIOD_S = 5.0
MARKER_PERIOD_S = 1.0
DATE_MARGIN_MS = 5_000
RESENDS = 3
"""How often a writer sends a batch again when its connection fails."""
"""New events are dated this much before the server's estimated now: the estimate runs
ahead of the server's clock by its start-up time, and an event dated after the server's
now would not show in any span until the clock reaches it."""


@dataclass
class ServerClock:
    """The server's running clock (``ENGACTIVITY_FAKE_START_MS``), as seen from here."""

    start_ms: int
    began: float
    """``time.perf_counter()`` just before the server process was started."""

    def now_ms(self) -> int:
        return self.start_ms + int((time.perf_counter() - self.began) * 1000)


@dataclass
class Record:
    """What the clients saw: latencies by method, marker values by client, acks."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    error_kinds: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    """(method, ``HTTP <status>`` or the exception's name) -> how many polls failed so."""
    answers: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    """Client name (``sub<i>:<question>``, ``poll<i>:<question>``) -> (arrival time,
    marker value) of each answer, in arrival order."""
    acks: list[float] = field(default_factory=list)
    """Acknowledgement time of marker n at index n - 1."""
    polled: int = 0
    pushed: int = 0
    streams_refused: int = 0
    push_unsupported: bool = False
    produced: int = 0
    produce_batches: int = 0
    resent: int = 0
    """Batches sent again after their connection failed."""
    cpu_s: float = 0.0
    """CPU of the wallboard processes that recorded this."""
    failures: list[str] = field(default_factory=list)

    @property
    def errors(self) -> dict[str, int]:
        """Failed polls per method."""
        out: dict[str, int] = defaultdict(int)
        for (method, _), count in self.error_kinds.items():
            out[method] += count
        return dict(out)

    def merge(self, other: Record) -> None:
        """Add what another process's clients saw (their names are distinct)."""
        for method, times in other.latencies.items():
            self.latencies[method] += times
        for kind, count in other.error_kinds.items():
            self.error_kinds[kind] += count
        self.answers |= other.answers
        self.acks += other.acks
        self.polled += other.polled
        self.pushed += other.pushed
        self.streams_refused += other.streams_refused
        self.push_unsupported |= other.push_unsupported
        self.produced += other.produced
        self.produce_batches += other.produce_batches
        self.resent += other.resent
        self.cpu_s += other.cpu_s
        self.failures += other.failures


WALLBOARD_PROCESSES = 2
"""Processes that share the wallboards (one asyncio loop each)."""


def marker_value(q: Query, doc: Any) -> int:
    """The marker's count in an answer to one of :data:`MARKED`."""
    key = str(MARKER_SKILL)
    if q.method == "engactivity":
        skill = doc["skillsMetricsPerAgent"]["metricsPerSkill"].get(key)
        return 0 if skill is None else int(skill["metricsTotals"]["connectedEngagements"])
    skills = doc["skillsMetrics"] if q.method == "queuehealth" else doc["skills"]
    skill = skills.get(key)
    return 0 if skill is None else int(skill["currentQueueSize"])


_SECTIONS = {
    "engactivity": '"skillsMetricsPerAgent":{"metricsPerSkill":{',
    "queuehealth": '"skillsMetrics":{',
    "queuestate": '"skills":{',
}
"""The object keyed by skill whose marker entry holds the count. Intervals (when asked)
come before the span, so the span's is the last."""
_MARKER_KEY = f'"{MARKER_SKILL}":'
_DECODER = json.JSONDecoder()


def marker_in(q: Query, text: str) -> int:
    """:func:`marker_value` of an answer's text, reading only the marker's entry (a
    wallboard of the large account parsing whole answers would be the bench's
    bottleneck). The marker agent's key may follow the section (engactivity's
    ``agentsMetrics``): an entry without the skill's fields counts as absent."""
    start = text.rfind(_SECTIONS[q.method])
    at = -1 if start < 0 else text.find(_MARKER_KEY, start)
    if at < 0:
        return 0
    entry, _ = _DECODER.raw_decode(text, at + len(_MARKER_KEY))
    if q.method == "engactivity":
        totals = entry.get("metricsTotals") if isinstance(entry, dict) else None
        return 0 if totals is None else int(totals["connectedEngagements"])
    size = entry.get("currentQueueSize") if isinstance(entry, dict) else None
    return 0 if size is None else int(size)


def _request_args(q: Query) -> dict[str, Any]:
    if not q.post:
        return {"method": "GET"}
    return {"method": "POST", "content": q.body, "headers": {"content-type": "application/json"}}


async def poller(
    client: httpx.AsyncClient,
    url: str,
    q: Query,
    name: str,
    rec: Record,
    start: float,
    until: float,
    extra_s: float = 0.0,
) -> None:
    """Ask ``q`` every :data:`POLL_PERIOD_S` from ``start`` (perf_counter) to ``until``;
    ``extra_s`` is added to each latency (the floor's encoding time)."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    due = start
    args = _request_args(q)
    while due < until:
        began = time.perf_counter()
        try:
            response = await client.request(url=url, **args)
        except httpx.HTTPError as exc:
            rec.error_kinds[q.method, type(exc).__name__] += 1
        else:
            arrived = time.perf_counter()
            if response.status_code != 200:
                rec.error_kinds[q.method, f"HTTP {response.status_code}"] += 1
            else:
                rec.polled += 1
                rec.latencies[q.method].append(arrived - began + extra_s)
                if q.name in MARKED:
                    value = marker_in(q, response.content.decode())
                    rec.answers.setdefault(name, []).append((arrived, value))
        due += POLL_PERIOD_S
        await asyncio.sleep(max(0.0, due - time.perf_counter()))


async def subscriber(
    session: aiohttp.ClientSession, url: str, q: Query, name: str, rec: Record, start: float
) -> None:
    """Follow ``q``'s event stream until cancelled (reconnecting after a refusal or an
    ``end``); a server without push answers JSON, which ends the subscriber. Read with
    aiohttp and :class:`bench.sse.EventReader`, at under a third of httpx and
    httpx-sse's CPU per byte (bench/sse.py); the data of an event is only read for the
    questions that show the marker."""
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    args = _request_args(q)
    headers = {**args.get("headers", {}), "accept": "text/event-stream"}
    marked = q.name in MARKED
    while True:
        async with session.request(
            args["method"], url, data=args.get("content"), headers=headers
        ) as response:
            if response.status in (429, 503):
                rec.streams_refused += 1
                await asyncio.sleep(1.0)
                continue
            response.raise_for_status()
            if response.content_type != "text/event-stream":
                rec.push_unsupported = True
                return
            reader = EventReader(keep_data=marked)
            async for chunk in response.content.iter_any():
                for event in reader.feed(chunk):
                    if event.event != "answer":
                        continue
                    rec.pushed += 1
                    if marked:
                        value = marker_in(q, event.data)
                        rec.answers.setdefault(name, []).append((time.perf_counter(), value))
        await asyncio.sleep(1.0)


def limits(clients: int) -> httpx.Limits:
    """Connections enough for ``clients`` clients that each keep one open (and spares)."""
    return httpx.Limits(max_connections=4 * clients, max_keepalive_connections=4 * clients)


@dataclass(frozen=True)
class Boards:
    """One process's share of the wallboards: each polls its question and another
    subscribes to it; wallboard ``i`` starts polling at ``start + i * step``."""

    base_url: str
    boards: list[tuple[int, Query]]
    start: float
    until: float
    step: float


def run_wallboards(part: Boards) -> Record:
    """A wallboard process's work (its entry point): what its clients saw, its CPU."""
    began = time.process_time()
    rec = asyncio.run(_wallboards(part))
    rec.cpu_s = time.process_time() - began
    return rec


async def _wallboards(part: Boards) -> Record:
    rec = Record()
    size = len(part.boards)
    async with (
        httpx.AsyncClient(timeout=60, limits=limits(size)) as polls,
        aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=60),
            connector=aiohttp.TCPConnector(limit=limits(size).max_connections),
        ) as streams,
    ):
        # The subscribers open their streams before the pollers begin.
        subs = [
            asyncio.create_task(
                subscriber(
                    streams, part.base_url + q.path, q, f"sub{i}:{q.name}", rec, part.start - 2.0
                )
            )
            for i, q in part.boards
        ]
        await asyncio.gather(
            *(
                poller(
                    polls,
                    part.base_url + q.path,
                    q,
                    f"poll{i}:{q.name}",
                    rec,
                    part.start + i * part.step,
                    part.until,
                )
                for i, q in part.boards
            )
        )
        for task in subs:
            task.cancel()
        ends = await asyncio.gather(*subs, return_exceptions=True)
    rec.failures += [
        f"subscriber: {e!r}"
        for e in ends
        if isinstance(e, BaseException) and not isinstance(e, asyncio.CancelledError)
    ]
    return rec


async def markers(
    client: httpx.AsyncClient, account: str, clock: ServerClock, rec: Record, until: float
) -> None:
    """Once a second, a batch on the marker skill: one ``connected`` and a ``queueState``
    whose queue size is the marker's number."""
    due = time.perf_counter()
    while due < until:
        n = len(rec.acks) + 1
        at = clock.now_ms() - DATE_MARGIN_MS
        events = [
            {
                "eventId": f"live-marker-c-{n}",
                "type": "connected",
                "time": at,
                "skillId": MARKER_SKILL,
                "agentId": MARKER_AGENT,
            },
            {
                "eventId": f"live-marker-q-{n}",
                "type": "queueState",
                "time": at,
                "skillId": MARKER_SKILL,
                "queueSize": n,
                "availableSlots": 0,
            },
        ]
        response = await post_events(client, account, events, rec)
        counted = response.json() if response.status_code == 200 else {}
        if counted.get("accepted", 0) + counted.get("duplicates", 0) != len(events):
            raise RuntimeError(f"marker {n}: HTTP {response.status_code} {response.text[:300]}")
        rec.acks.append(time.perf_counter())
        due += MARKER_PERIOD_S
        await asyncio.sleep(max(0.0, due - time.perf_counter()))


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


async def post_events(
    client: httpx.AsyncClient, account: str, events: list[dict[str, Any]], rec: Record
) -> httpx.Response:
    """Send a batch as a producer does: again, with the same ids, when the connection
    fails (a keep-alive connection the server closes just as a batch goes out); the
    server counts a batch that had landed as duplicates."""
    for attempt in range(RESENDS + 1):
        try:
            return await client.post(f"/api/v1/accounts/{account}/events", content=_json(events))
        except httpx.TransportError:
            if attempt == RESENDS:
                raise
            rec.resent += 1
    raise AssertionError("unreachable")


async def producer(
    client: httpx.AsyncClient,
    minute: list[tuple[int, str, dict[str, Any]]],
    clock: ServerClock,
    rec: Record,
    until: float,
) -> None:
    """Replay the busiest minute of the day, (offset ms, account, event) in offset order,
    second by second and over again: each second's events, one batch per account, new
    ids, dated at the server's now."""
    began = time.perf_counter()
    second = 0
    while began + second < until:
        low, high = (second % 60) * 1000, (second % 60 + 1) * 1000
        batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
        at = clock.now_ms() - DATE_MARGIN_MS
        for offset, account, event in minute:
            if low <= offset < high:
                batches[account].append({**event, "eventId": f"live{second}-{event['eventId']}"})
                batches[account][-1]["time"] = at
        await asyncio.gather(*(_send(client, a, b, rec) for a, b in batches.items()))
        second += 1
        await asyncio.sleep(max(0.0, began + second - time.perf_counter()))


async def _send(
    client: httpx.AsyncClient, account: str, events: list[dict[str, Any]], rec: Record
) -> None:
    response = await post_events(client, account, events, rec)
    if response.status_code != 200:
        raise RuntimeError(f"producer: HTTP {response.status_code} {response.text[:300]}")
    rec.produced += len(events)
    rec.produce_batches += 1


def freshness(acks: list[float], answers: list[tuple[float, int]]) -> tuple[list[float], int]:
    """Seconds from each marker's acknowledgement to the first of one client's answers
    that shows it (a value of at least its number), and how many no answer showed.
    An answer read before the acknowledgement arrived counts as 0."""
    lags: list[float] = []
    missed = 0
    i = 0
    for n, acked in enumerate(acks, 1):
        while i < len(answers) and answers[i][1] < n:
            i += 1
        if i == len(answers):
            missed += 1
            continue
        lags.append(max(0.0, answers[i][0] - acked))
    return lags, missed
