"""Producing answers of any method: from a snapshot of the store, through the caches.

Whole answers are cached by the data version of the tables their method reads: a
wallboard polling the same question gets the stored bytes until new data arrives in
one of them (a chat's events leave current queue state and agent activity answers
alone), and never an answer older than a freshly computed one. Methods may also keep rendered parts
(``Fragments``), each under its own stamp, so that after new data only the changed
parts are rendered again. Identical concurrent questions share one computation, and
answers that are not light are made off the event loop, at most one per core at a
time, so a burst of large questions queues instead of growing memory without bound;
unless the question's last computation was cheaper than the hop (costs.py).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Hashable, Sized
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from engactivity.api.cache import AnswerCache, SingleFlight
from engactivity.api.costs import Costs
from engactivity.methods.method import AnyMethod, Piece
from engactivity.store import Store


class _AccountFragments:
    """The fragment cache as one method of one account sees it."""

    def __init__(self, cache: AnswerCache[Sized], scope: Hashable) -> None:
        self._cache = cache
        self._scope = scope

    def get(self, part: Hashable, stamp: int, kind: type[Piece]) -> Piece | None:
        found = self._cache.get((self._scope, part), stamp)
        return found if isinstance(found, kind) else None

    def put(self, part: Hashable, stamp: int, piece: Sized) -> None:
        self._cache.put((self._scope, part), stamp, piece)


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    version: int
    """The data version of its method's tables it was read at."""
    until: int
    """The moment (ms) from which it is outdated even without new data (2**63: never)."""


class Answers:
    def __init__(self, store: Store, cache_bytes: int, costs: Costs | None = None) -> None:
        """``costs``: where the cost of each question's last computation is kept (a test
        may give a wider bound for what runs on the loop)."""
        self._store = store
        self._answers: AnswerCache[bytes] = AnswerCache(cache_bytes // 2)
        self._fragments: AnswerCache[Sized] = AnswerCache(cache_bytes // 2)
        self._flights: SingleFlight[Answer] = SingleFlight()
        self._renderers = anyio.CapacityLimiter(os.cpu_count() or 2)
        self._costs = Costs() if costs is None else costs

    async def get(self, method: AnyMethod, account_id: str, query: Any, now_ms: int) -> bytes:
        return (await self.answer(method, account_id, query, now_ms)).body

    async def answer(
        self,
        method: AnyMethod,
        account_id: str,
        query: Any,
        now_ms: int,
        version: int | None = None,
    ) -> Answer:
        """The answer with its data version and until when it holds (for push).
        ``version``: the version of the method's tables, when the caller has just read
        it (push does, to skip unchanged questions), so that it is not read twice."""
        plan = method.plan(query, now_ms)
        part = plan if method.key is None else method.key(query, plan)
        key = (method.name, account_id, query, part)
        if version is None:
            version = await self.version(account_id, method)
        cached = self._answers.entry(key, version, now_ms)
        if cached is not None:
            return Answer(cached[0], version, cached[1])
        compute = functools.partial(self._compute, method, account_id, query, plan, key)
        if self._inline(method, account_id, query):
            return compute()  # cheaper than a thread hop

        async def off_loop() -> Answer:
            return await anyio.to_thread.run_sync(compute, limiter=self._renderers)

        answer = await self._flights.run((key, version), off_loop)
        if now_ms >= answer.until:  # shared with a computation begun earlier, and outdated since
            answer = await off_loop()
        return answer

    async def version(self, account_id: str, method: AnyMethod) -> int:
        """The data version of the account's tables ``method`` reads (its answers are
        cached by it)."""
        if self._store.blocking or not self._store.resident(account_id):
            # Other processes write too, or the account is not in memory: the version
            # comes from the database (the account is loaded), off the event loop.
            version = functools.partial(self._store.version, account_id, method.tables)
            return await anyio.to_thread.run_sync(version)
        return self._store.version(account_id, method.tables)

    def _inline(self, method: AnyMethod, account_id: str, query: Any) -> bool:
        """Whether to answer on the event loop: light by its shape, or cheap last time."""
        return method.light(query) or bool(self._costs.cheap((method.name, account_id, query)))

    def _compute(
        self, method: AnyMethod, account_id: str, query: Any, plan: Any, key: Hashable
    ) -> Answer:
        """The answer, read at one version, and until when it holds without new data;
        the time it took is noted for the next one (``_inline``). Wall time, not the
        thread's CPU time: it is how long the answer holds the loop when made there, and
        reading a thread's CPU clock is a system call made holding the GIL, where a busy
        machine often takes the CPU away (docs/design.md, "After a write: the serving
        path")."""
        started = time.perf_counter()
        fragments = _AccountFragments(self._fragments, (method.name, account_id))
        with self._store.snapshot(account_id) as state:
            version = state.version_of(method.tables)
            reading = method.read(query, plan, state, fragments)
        body = method.render(query, plan, reading, fragments)
        until = None if method.valid_until is None else method.valid_until(query, plan, reading)
        self._answers.put(key, version, body, until)
        self._costs.note((method.name, account_id, query), time.perf_counter() - started)
        return Answer(body, version, _FOREVER if until is None else until)


_FOREVER = 2**63
