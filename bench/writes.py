"""Writes that change an account's data without changing any answer asked, and the
timing of answers right after them.

A live account's data changes between nearly every two polls, so the benchmark also
times each question right after a write (:func:`after_write`). The floor and the naive
peer are timed in the same loop, by the same client, each right after a write of its
own to our server: all three answers come after the same pause (while our server
made the write durable, every process on the machine slept) and pay the same client.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.servers import Process
from bench.stats import percentile

BUCKET_MS = 300_000
WRITE_AGENT = 1001
"""The agent of the writes (the simulator's first agent: every account has it)."""


def send(conn: http.client.HTTPConnection, path: str, body: bytes | None) -> None:
    """A GET, or a POST of a JSON ``body``."""
    if body is None:
        conn.request("GET", path)
    else:
        conn.request("POST", path, body, {"Content-Type": "application/json"})


class Writer:
    """Changes an account's data without changing any answer the benchmark asks for.

    Each write is a batch of new events in the bucket after the current one (at most
    5 minutes ahead of the pinned now, so valid), which no span ending at now includes:
    a ``connected`` (with a wait and a group: engagement activity, queue health and SLA
    tables) and, when the account has current queue values, a ``queueState`` repeating
    one skill's current sample (its queue tables; the newest sample, with the same values,
    so no current value moves). Besides, an ``agentState`` of :data:`WRITE_AGENT` dated
    now: the agent's timeline changes from now on, which no window ``[now - T, now)``
    holds. A server that caches answers until the account's data changes must compute
    the next answer afresh.
    """

    def __init__(self, server: Process, now_ms: int, first: int = 0) -> None:
        """``first``: where the numbering of its events starts (a second writer to the
        same store starts after the first's, so that its events are new)."""
        self.now_ms = now_ms
        self.port = server.port
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.time_ms = (now_ms // BUCKET_MS + 1) * BUCKET_MS + 1000
        self.count = first
        self.lock = threading.Lock()
        self.samples: dict[str, dict[str, Any] | None] = {}

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
        except (OSError, http.client.HTTPException):
            # The server closes idle keep-alive connections: once more, on a new one.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def _sample(self, account: str) -> dict[str, Any] | None:
        """A queueState repeating the current sample of the account's lowest skill that
        has one (its id and time to be set); None when no skill has a current value."""
        if account not in self.samples:
            status, raw = self._request("GET", f"/operations/api/account/{account}/queuestate?v=1")
            if status != 200:
                raise RuntimeError(f"queuestate for the writes: HTTP {status} {raw[:300]!r}")
            current = orjson.loads(raw)["skills"]
            skill = min(current, key=int) if current else None
            self.samples[account] = (
                None
                if skill is None
                else {
                    "type": "queueState",
                    "skillId": int(skill),
                    "queueSize": current[skill]["currentQueueSize"],
                    "availableSlots": current[skill]["currentAvailableSlots"],
                }
            )
        return self.samples[account]

    def write(self, account: str) -> None:
        with self.lock:
            self.count += 1
            events: list[dict[str, Any]] = [
                {
                    "eventId": f"bench-future-{self.count}",
                    "type": "connected",
                    "time": self.time_ms,
                    "skillId": 1,
                    "agentId": WRITE_AGENT,
                    "waitTime": 12,
                    "agentGroupId": 1,
                },
                {
                    # Zero-padded: with the clock pinned every one of these is at the same
                    # millisecond, ordered by id, so ids in order keep them appends (as
                    # a live agent's events, whose times move on), not late events.
                    "eventId": f"bench-now-a-{self.count:012d}",
                    "type": "agentState",
                    "time": self.now_ms,
                    "agentId": WRITE_AGENT,
                    "state": "online",
                },
            ]
            sample = self._sample(account)
            if sample is not None:
                events.append(
                    {"eventId": f"bench-future-q-{self.count}", "time": self.time_ms, **sample}
                )
            path = f"/api/v1/accounts/{account}/events"
            status, raw = self._request("POST", path, orjson.dumps(events))
            if status != 200 or orjson.loads(raw)["accepted"] != len(events):
                raise RuntimeError(f"write: HTTP {status} {raw[:300]!r}")

    def close(self) -> None:
        self.conn.close()


@dataclass
class Target:
    """A server asked the question after each write: its port and the request's path
    (the query's body, if any, is sent to every target)."""

    port: int
    path: str
    times: list[float] = field(default_factory=list)
    spent_s: float = 0.0


def after_write(
    writer: Writer,
    account: str,
    targets: dict[str, tuple[int, str]],
    body: bytes | None,
    samples: int,
    budget_s: float,
) -> dict[str, dict[str, float]]:
    """Per target (name -> port and path): the latency of a request sent right after a
    write to ``account`` (one client, a keep-alive connection per target), p50 and p99.

    Each round asks every target in a random order, each after a write of its own. A
    target stops at ``samples`` requests, or, once it has 3, when its requests took
    ``budget_s`` in all (a slow peer gets fewer)."""
    state = {name: Target(port, path) for name, (port, path) in targets.items()}
    conns = {
        name: http.client.HTTPConnection("127.0.0.1", t.port, timeout=600)
        for name, t in state.items()
    }

    def wanted(t: Target) -> bool:
        return len(t.times) < samples and (len(t.times) < 3 or t.spent_s < budget_s)

    try:
        while pending := [name for name, t in state.items() if wanted(t)]:
            for name in random.sample(pending, len(pending)):
                t, conn = state[name], conns[name]
                writer.write(account)
                started = time.perf_counter()
                send(conn, t.path, body)
                response = conn.getresponse()
                response.read()
                t.times.append(time.perf_counter() - started)
                t.spent_s += t.times[-1]
                if response.status != 200:
                    raise RuntimeError(f"{name} {t.path} after a write: HTTP {response.status}")
    finally:
        for conn in conns.values():
            conn.close()
    return {
        name: {
            "samples": len(t.times),
            "p50_ms": 1000 * percentile(t.times, 50),
            "p99_ms": 1000 * percentile(t.times, 99),
        }
        for name, t in state.items()
    }


class BackgroundWrites:
    """Writes to one account every ``period_s`` while a load run lasts."""

    def __init__(self, writer: Writer, account: str, period_s: float) -> None:
        self.writer, self.account, self.period_s = writer, account, period_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            while not self.stop.wait(self.period_s):
                self.writer.write(self.account)
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> BackgroundWrites:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)
        if self.error is not None:
            raise RuntimeError(f"background writes failed: {self.error}")
