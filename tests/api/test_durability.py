"""Durability: a 200 means committed. Restarts and kill -9 lose nothing acknowledged."""

from __future__ import annotations

import queue
import random
import threading
import time
from typing import Any

import httpx

from tests.api.test_ingest import (
    KEYS,
    ZERO,
    Counters,
    ack,
    closed,
    connected,
    sample_events,
    total_of,
    totals,
)
from tests.conftest import MIN, NOW_MS, Server

Batch = list[dict[str, object]]

QUERIES: list[dict[str, object]] = [
    {"timeframe": 1440},
    {"timeframe": 60},
    {"timeframe": 1440, "skillIds": "all"},
    {"timeframe": 1440, "agentIds": "all"},
    {"timeframe": 1440, "skillIds": "all", "agentIds": "all", "interval": 60},
    {"timeframe": 180, "skillIds": "-1,2", "agentIds": "3,4", "interval": 15},
]


def answers(server: Server, account: str) -> list[Any]:
    out = []
    for params in QUERIES:
        response = server.query(account, **params)
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


def test_restart_keeps_everything(server: Server) -> None:
    events = sample_events("r") + [
        closed(
            f"more-{i}",
            NOW_MS - i * 11 * MIN,
            skill=i % 3,
            agent=3 + i % 2,
            handling=i,
            interactive=i % 3 != 0,
        )
        for i in range(40)
    ]
    assert ack(server.send("acme", events))["accepted"] == len(events)
    assert ack(server.send("other", events[:5]))["accepted"] == 5
    before = answers(server, "acme")
    before_other = answers(server, "other")
    assert totals(server, "acme") == total_of(events)

    server.stop()
    server.start()
    assert answers(server, "acme") == before
    assert answers(server, "other") == before_other
    # The ids survived too: a redelivery is a duplicate.
    assert ack(server.send("acme", events)) == {
        "accepted": 0,
        "duplicates": len(events),
        "expired": 0,
    }
    assert answers(server, "acme") == before


def test_kill_right_after_ack_loses_nothing(server: Server) -> None:
    events = sample_events("k")
    assert ack(server.send("acme", events))["accepted"] == len(events)
    server.kill()
    server.start()
    assert totals(server, "acme") == total_of(events)
    assert ack(server.send("acme", events))["duplicates"] == len(events)


# -- the crash test -------------------------------------------------------------------------


def make_batches(rng: random.Random, count: int, size: int) -> tuple[list[Batch], Batch]:
    """Batches of known events; about one event in six is sent in two different batches."""
    distinct: Batch = []
    for i in range(count * size * 5 // 6):
        t = NOW_MS - rng.randrange(0, 23 * 60) * MIN - rng.randrange(MIN)
        if i % 4 == 0:
            distinct.append(connected(f"crash-{i}", t, skill=i % 5, agent=i % 7))
        else:
            distinct.append(
                closed(
                    f"crash-{i}",
                    t,
                    skill=i % 5 if i % 9 else None,
                    agent=i % 7 if i % 13 else None,
                    interactive=i % 3 != 0,
                    handling=1000 + i,
                )
            )
    pool = list(distinct)
    pool += rng.sample(distinct, count * size - len(distinct))
    rng.shuffle(pool)
    return [pool[start : start + size] for start in range(0, len(pool), size)], distinct


class Senders:
    """Client threads sending batches from a shared queue until told to stop."""

    def __init__(self, server: Server, batches: list[Batch], threads: int = 4) -> None:
        self.server = server
        self.todo: queue.SimpleQueue[Batch] = queue.SimpleQueue()
        for batch in batches:
            self.todo.put(batch)
        self.acked: list[Batch] = []
        self.unacked: list[Batch] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def start(self) -> None:
        self.stop.clear()
        self.threads = [threading.Thread(target=self.run) for _ in range(len(self.threads))]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def run(self) -> None:
        with httpx.Client(base_url=self.server.base_url, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    batch = self.todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = client.post("/api/v1/accounts/crash/events", json=batch)
                except httpx.HTTPError:
                    with self.lock:
                        self.unacked.append(batch)
                    continue
                with self.lock:
                    if response.status_code == 200:
                        body = response.json()
                        if body["accepted"] + body["duplicates"] != len(batch) or body["expired"]:
                            self.failures.append(f"bad counts {body} for {len(batch)} events")
                        self.acked.append(batch)
                    elif response.status_code == 503:
                        self.unacked.append(batch)
                    else:
                        self.failures.append(f"{response.status_code}: {response.text}")
                        self.unacked.append(batch)


def componentwise_le(a: Counters, b: Counters) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True))


def distinct_events(batches: list[Batch]) -> Batch:
    seen: dict[str, dict[str, object]] = {}
    for batch in batches:
        for event in batch:
            seen.setdefault(str(event["eventId"]), event)
    return list(seen.values())


def check_acked_are_stored(server: Server, acked: list[Batch]) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for batch in acked:
            response = client.post("/api/v1/accounts/crash/events", json=batch)
            assert ack(response) == {"accepted": 0, "duplicates": len(batch), "expired": 0}


def test_kill_9_under_load_loses_no_acknowledged_event(server: Server) -> None:
    rng = random.Random(20261124)
    batches, distinct = make_batches(rng, count=1000, size=20)
    senders = Senders(server, batches)
    unacked_ever: list[Batch] = []
    checked = 0
    kills = 0
    for _round in range(3):
        senders.start()
        # Kill at a random moment under load: after a random number of acknowledgements,
        # plus a random fraction of a batch's round trip.
        target = len(senders.acked) + rng.randint(40, 250)
        deadline = time.monotonic() + 10
        while len(senders.acked) < target and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.01))
        server.kill()
        kills += 1
        senders.join()
        assert not senders.failures, senders.failures[:5]
        assert not senders.todo.empty(), "the kill must come in the middle of the load"
        unacked_ever += senders.unacked
        server.start()

        # Everything acknowledged so far is stored exactly once, and nothing that was
        # never sent is counted: acked <= stored <= ever sent.
        stored = totals(server, "crash")
        assert componentwise_le(total_of(distinct_events(senders.acked)), stored)
        assert componentwise_le(stored, total_of(distinct_events(senders.acked + unacked_ever)))
        # Those acknowledged in this round are all duplicates now (earlier rounds were
        # checked after their own kill, and all of them are checked again at the end).
        check_acked_are_stored(server, senders.acked[checked:])
        checked = len(senders.acked)
        assert totals(server, "crash") == stored

        # Not acknowledged: send again (some were committed before the kill, some not).
        for batch in senders.unacked:
            senders.todo.put(batch)
        senders.unacked = []
    assert kills >= 2

    # Finish without kills: everything left, then the final accounting.
    senders.start()
    deadline = time.monotonic() + 60
    while any(t.is_alive() for t in senders.threads) and time.monotonic() < deadline:
        time.sleep(0.05)
    senders.join()
    assert not senders.failures, senders.failures[:5]
    assert not senders.unacked
    assert senders.todo.empty()
    assert len(senders.acked) == len(batches)
    expected = total_of(distinct)
    assert total_of(distinct_events(senders.acked)) == expected
    assert totals(server, "crash") == expected
    assert expected != ZERO
    check_acked_are_stored(server, senders.acked)
    assert totals(server, "crash") == expected

    # Per agent as well: each agent's share is exactly its distinct events.
    response = server.query("crash", timeframe=1440, agentIds="all")
    per_agent = response.json()["agentsMetrics"]["metricsPerAgent"]
    for agent in range(7):
        mine = [e for e in distinct if e.get("agentId") == agent]
        assert per_agent[str(agent)] == dict(zip(KEYS, total_of(mine), strict=True))
