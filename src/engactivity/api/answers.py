"""Producing engactivity answers: from the store's memory, through the caches.

Whole answers are cached by the account's data version; the intervals they are made
of are cached by their own stamps, so after new data only the changed intervals are
rendered again. Identical concurrent questions share one computation, and large
answers are rendered off the event loop, at most one per core at a time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable

import anyio
import anyio.to_thread

from engactivity.api.cache import AnswerCache, SingleFlight
from engactivity.query import EngActivityQuery
from engactivity.response import render, render_section
from engactivity.slices import Slice
from engactivity.store import Store
from engactivity.timeframe import Span


def _fragment_key(account_id: str, query: EngActivityQuery, span: Span, k: int) -> Hashable:
    """What fixes interval k's content: the filters and its buckets (the oldest
    interval also depends on where the span starts)."""
    oldest = span.first if k == span.interval_count - 1 else None
    return (account_id, query.skills, query.agents, span.end_ms, span.interval_ms, k, oldest)


class Answers:
    def __init__(self, cache_bytes: int) -> None:
        self._answers: AnswerCache[bytes] = AnswerCache(cache_bytes // 2)
        self._fragments: AnswerCache[str] = AnswerCache(cache_bytes // 2)
        self._flights = SingleFlight()
        self._renderers = anyio.CapacityLimiter(os.cpu_count() or 2)

    async def get(
        self, store: Store, account_id: str, query: EngActivityQuery, span: Span
    ) -> bytes:
        key = (account_id, query, span.first, span.last)
        if getattr(store, "shared", False):
            # Other processes write too: the version comes from the database.
            version = await anyio.to_thread.run_sync(store.version, account_id)
        else:
            version = store.version(account_id)
        cached = self._answers.get(key, version)
        if cached is not None:
            return cached
        compute = functools.partial(self._compute, store, account_id, query, span, key)
        if query.skills is None and query.agents is None:
            return compute()  # totals only: cheaper than a thread hop

        async def off_loop() -> bytes:
            return await anyio.to_thread.run_sync(compute, limiter=self._renderers)

        return await self._flights.run((key, version), off_loop)

    def _compute(
        self,
        store: Store,
        account_id: str,
        query: EngActivityQuery,
        span: Span,
        key: Hashable,
    ) -> bytes:
        filtered = query.skills is not None or query.agents is not None
        reuse = filtered and query.interval is not None

        def lookup(k: int, stamp: int) -> str | None:
            return self._fragments.get(_fragment_key(account_id, query, span, k), stamp)

        reading = store.read(
            account_id, span, query.skills, query.agents, lookup if reuse else None
        )
        pieces: list[Slice | str] | None = None
        if reading.intervals is not None:
            pieces = []
            for k, piece in enumerate(reading.intervals):
                if reuse and isinstance(piece, Slice):
                    text = render_section(query, piece)
                    if reading.stamps is not None:
                        fragment = _fragment_key(account_id, query, span, k)
                        self._fragments.put(fragment, reading.stamps[k], text)
                    piece = text
                pieces.append(piece)
        body = render(query, span, reading.whole, pieces)
        self._answers.put(key, reading.version, body)
        return body
