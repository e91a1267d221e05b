"""The balanced test topology itself (tests/balanced.py), in any run: two processes
with ``--memory-mb 1`` on one PostgreSQL database behind round-robin nginx evict
accounts and read them again, each answers exactly whichever process gives it, and
both processes take their share. Skipped where nginx is not installed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_memory_cap import accounts, send
from tests.balanced import NGINX, memory_counters
from tests.conftest import Server


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[Server]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    server = Server(tmp_path, balanced=True).start()
    yield server
    server.stop()


def test_both_processes_evict_and_every_answer_stays_exact(balanced: Server) -> None:
    made = accounts()  # some 3 MB of rollups, for two caps of 1 MB
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
