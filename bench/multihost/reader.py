"""A dashboard reading while producers write: every method, on every account, in turn.

Through the balancer, one question every 50 ms, the accounts and questions taken in a
shuffled order: with a memory cap smaller than one account, nearly every answer
loads its account from the store and evicts the one held before, while batches for
both are being written. Its answers move with the clock and the writes, so only
their status is judged here (200; during a failure 502/503/504 or no answer, as for
the producers); the exact comparisons come after the load (checks.py).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import httpx

from bench.multihost.checks import asked
from bench.multihost.questions import QUESTIONS

EXPECTED = (200, 0, 502, 503, 504)


class Reader(threading.Thread):
    def __init__(self, url: str, keys: dict[str, dict[str, Any]], accounts: list[str]) -> None:
        super().__init__(name="reader", daemon=True)
        self.url = url
        self.keys = keys
        self.accounts = accounts
        self.statuses: Counter[int] = Counter()
        self.unexpected: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        rng = random.Random("reader")
        pairs = [(a, q) for a in self.accounts for q in QUESTIONS]
        with httpx.Client(timeout=30, trust_env=False) as client:
            while not self.stopping.wait(0.05):
                account, question = rng.choice(pairs)
                try:
                    answers = asked(client, self.url, account, self.keys[account], question)
                    statuses = [(response.status_code, response.text) for _, response in answers]
                except httpx.HTTPError:
                    statuses = [(0, "")]
                for status, text in statuses:
                    self.statuses[status] += 1
                    if status not in EXPECTED:
                        self.unexpected.append(
                            f"{account} {question.method}: {status} {text[:200]}"
                        )

    def figures(self) -> dict[str, Any]:
        return {
            "answers_by_status": {str(s): n for s, n in sorted(self.statuses.items())},
            "unexpected": self.unexpected[:5],
        }
