"""Producers as real ones behave: batches with event ids, resent until acknowledged.

Each producer thread sends batches of one account through the load balancer. An
answer other than 200 (a 503, a 502, no answer, a timeout) means "not acknowledged":
the producer waits (the Retry-After, else half a second) and resends the very same
batch, ids and all, until it gets a 200. Every tenth batch it also delivers its
previous batch again, as producers that are unsure do. Every attempt is recorded
with its times and status, for the outage figures.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import httpx
import orjson

from bench.multihost.traffic import Event, make_batch

GIVE_UP_S = 120.0
"""After the stop, how long a producer keeps resending its last unacknowledged batch."""


@dataclass(frozen=True)
class Attempt:
    started: float
    ended: float
    status: int
    """The HTTP status, or 0 for no answer (connection failed, timeout)."""


@dataclass
class Log:
    """What all producers saw, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: dict[str, list[Event]] = field(default_factory=dict)
    """Per account, every event of every acknowledged batch (resent ones again)."""
    accepted: int = 0
    """The sum of the acknowledgements' ``accepted``: new events stored."""
    unacknowledged: int = 0
    """Batches still not acknowledged when their producer gave up."""
    failures: list[str] = field(default_factory=list)


class Producer(threading.Thread):
    def __init__(self, name: str, url: str, account: str, token: str, batch: int, log: Log) -> None:
        super().__init__(name=name, daemon=True)
        self.url = f"{url}/api/v1/accounts/{account}/events"
        self.account = account
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.batch = batch
        self.log = log
        self.stopping = threading.Event()
        self.rng = random.Random(name)
        self.stopped_at = 0.0

    def run(self) -> None:
        with httpx.Client(timeout=10, trust_env=False) as client:
            previous: list[Event] | None = None
            seq = 0
            while not self.stopping.is_set() and not self.log.failures:
                now_ms = time.time_ns() // 1_000_000
                events = make_batch(self.rng, f"{self.name}-{seq}", self.batch, now_ms)
                if not self._until_acknowledged(client, events):
                    return
                seq += 1
                again = previous if seq % 10 == 0 else None
                if again is not None and not self._until_acknowledged(client, again):
                    return
                previous = events

    def _until_acknowledged(self, client: httpx.Client, events: list[Event]) -> bool:
        body = orjson.dumps(events)
        while True:
            if self.stopping.is_set() and time.monotonic() > self.stopped_at + GIVE_UP_S:
                with self.log.lock:
                    self.log.unacknowledged += 1
                return False
            started = time.monotonic()
            try:
                response = client.post(self.url, content=body, headers=self.headers)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            with self.log.lock:
                self.log.attempts.append(Attempt(started, time.monotonic(), status))
                if status == 200:
                    self.log.acknowledged.setdefault(self.account, []).extend(events)
                    self.log.accepted += int(response.json()["accepted"])
                    return True
            if status not in (0, 429, 502, 503, 504):
                with self.log.lock:
                    self.log.failures.append(f"{self.url}: HTTP {status}: {response.text[:300]}")
                return False
            retry = response.headers.get("Retry-After") if status else None
            time.sleep(float(retry) if retry else 0.5)

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        self.stopping.set()


class Prober(threading.Thread):
    """``GET /readyz`` through the balancer every 0.1 s: when the service could answer."""

    def __init__(self, url: str) -> None:
        super().__init__(name="prober", daemon=True)
        self.url = f"{url}/readyz"
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=2, trust_env=False) as client:
            while not self.stopping.wait(0.1):
                try:
                    status = client.get(self.url).status_code
                except httpx.HTTPError:
                    status = 0
                self.samples.append((time.monotonic(), status))
