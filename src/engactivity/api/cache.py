"""Rendered answers, kept while the account's data has not changed.

Wallboards poll the same question every few seconds. An answer is stored under the
account, the parsed query and the span's buckets, together with the account's data
version when it was read; it is served again only while that version is current,
so a cached answer is never staler than a freshly computed one.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sized
from typing import Generic, TypeVar

Text = TypeVar("Text", bound=Sized)
"""What is kept: its ``len`` is what it costs (bytes, characters)."""


_FOREVER = 2**63
"""An entry that only new data ends."""


class AnswerCache(Generic[Text]):
    """A bounded LRU of rendered text, each entry valid for one data version only (and,
    for answers that move with the clock, until a moment)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[int, int, Text]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: int, now_ms: int = 0) -> Text | None:
        found = self.entry(key, version, now_ms)
        return None if found is None else found[0]

    def entry(self, key: Hashable, version: int, now_ms: int = 0) -> tuple[Text, int] | None:
        """The text kept for ``version``, and until when it holds (2**63: until new data)."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != version or now_ms >= found[1]:
                return None
            self._entries.move_to_end(key)
            return found[2], found[1]

    def put(self, key: Hashable, version: int, body: Text, until_ms: int | None = None) -> None:
        """Keep ``body`` for ``version``, and until ``until_ms`` when it is given."""
        if len(body) * 4 > self.max_bytes:
            return  # one answer may not take more than a quarter of the budget
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[2])
            self._entries[key] = (version, _FOREVER if until_ms is None else until_ms, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, (_, _, evicted) = self._entries.popitem(last=False)
                self._bytes -= len(evicted)


Result = TypeVar("Result")


class SingleFlight(Generic[Result]):
    """Concurrent requests for the same answer share one computation.

    Without it, a wallboard fleet asking the same large question at once would
    compute (and hold in memory) one copy of the answer per request.
    Used from the event loop only.
    """

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[Result]] = {}

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[Result]]) -> Result:
        existing = self._calls.get(key)
        if existing is not None:
            try:
                return await asyncio.shield(existing)
            except asyncio.CancelledError:
                if not existing.cancelled():
                    raise  # this request itself was cancelled
                # The computation we waited for was abandoned: run our own.
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._calls[key] = future
        try:
            result = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # followers re-raise it; mark it retrieved
            raise
        else:
            future.set_result(result)
            return result
        finally:
            if self._calls.get(key) is future:
                del self._calls[key]
