"""The balanced test topology itself (tests/balanced.py), in any run: two processes
with a small memory cap on one PostgreSQL database behind round-robin nginx evict
accounts and read them again, each answers exactly whichever process gives it, and
both processes take their share; in ``make test-balanced`` as root, what they
acknowledge is on the synchronous replica too. Skipped where nginx is not installed."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.api.test_memory_cap import accounts, send
from tests.balanced import NGINX, memory_counters
from tests.conftest import NOW_MS, PG_URL, Server, store_rows

REPLICA_URL = os.environ.get("ENGACTIVITY_TEST_REPLICA_URL")
"""The replica of tests/replicated.py, when the run has one."""


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[Server]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    server = Server(tmp_path, balanced=True).start()
    yield server
    server.stop()


def test_both_processes_evict_and_every_answer_stays_exact(balanced: Server) -> None:
    made = accounts()  # some 3 MB of rollups, for two caps of 1 MB or less
    for account, (sent, _) in made.items():
        send(balanced, account, sent)
    order = list(made)
    rng = random.Random(11)
    for _ in range(2):
        rng.shuffle(order)
        for account in order:
            sent, check = made[account]
            check(balanced, account, sent)  # each check asks two or three questions
    assert len(balanced.backends) == 2
    for backend in balanced.backends:
        loads, evictions = memory_counters(backend.port)
        assert evictions > 0, f"process on port {backend.port} evicted nothing"
        assert loads > evictions


@pytest.mark.skipif(REPLICA_URL is None, reason="no replica: make test-balanced, as root")
def test_what_the_processes_acknowledge_is_on_the_synchronous_replica(balanced: Server) -> None:
    assert REPLICA_URL is not None
    # tests/replicated.py saw the replica become synchronous before the run began.
    with psycopg.connect(PG_URL) as conn:  # the multi-host URL: the one that takes writes
        row = conn.execute(
            "SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names')"
        ).fetchone()
    assert row is not None and row[0] is False and row[1], row
    with psycopg.connect(REPLICA_URL) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    events = [
        {"eventId": f"r-{n}", "type": "queued", "time": NOW_MS - 60_000, "skillId": 1}
        for n in range(200)
    ]
    for start in range(0, len(events), 50):  # batches through both processes in turn
        assert balanced.send("replicated", events[start : start + 50]).status_code == 200
    on_replica = urlsplit(REPLICA_URL)._replace(path=urlsplit(balanced.store_url).path).geturl()
    # Synchronous: flushed there before the 200; replayed, for a reader, a moment later.
    deadline = time.monotonic() + 10
    while (seen := store_rows(on_replica, "seen_event", "replicated")) < len(events):
        assert time.monotonic() < deadline, f"{seen} of {len(events)} on the replica"
        time.sleep(0.05)
    assert seen == len(events)
