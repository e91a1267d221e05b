"""One computation per change, shared by every event stream of the same question.

A topic is one question: the method, the account and the parsed query (the parsed
query is normalized: ``skillIds=1,2`` and ``skillIds=2,1`` are one question when the
method parses them alike). Its task wakes when the store has applied new data of the
account (``Store.on_applied``: this process's writes), and at least once per push
period, so that what no hook reports is seen too: other processes' writes on
PostgreSQL, retention, answers that move with the clock. It then computes the answer
once, through the answer caches, and when the bytes differ from the last ones sent,
encodes one event and hands the same bytes to every subscriber. The first change after
a quiet period is computed at once (leading edge); after sending, the topic waits out
the rest of the period (counted from the read that led to the send) before it computes
again, so a burst of writes becomes at most one event per period.

A computation takes a slot of the account's concurrency limit like a poll; when none
is free it is tried again at the next period. A subscriber keeps only the newest
event not yet sent: a slow reader skips answers, never falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sse_starlette import ServerSentEvent

from engactivity import telemetry
from engactivity.api.answers import Answer, Answers
from engactivity.api.limits import ConcurrencyLimiter, TooManyRequests
from engactivity.clock import Clock
from engactivity.methods.method import AnyMethod
from engactivity.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

SEPARATOR = "\n"
"""Line end of the events (and of the stream's heartbeats)."""


def encode_answer(answer: Answer) -> bytes:
    """The ``answer`` event: the poll's JSON body, its data version as the id."""
    body, event_id = answer.body, str(answer.version)
    if b"\n" in body or b"\r" in body:  # never from our methods (JSON on one line)
        return ServerSentEvent(body.decode(), event="answer", id=event_id, sep=SEPARATOR).encode()
    # One data line: the library frames the id and the name, and the body goes in as
    # bytes. Its encoder splits data into lines with a regular expression over the text:
    # 0.15 s for a 20 MB answer, on the event loop, once per change of the question.
    head = ServerSentEvent(event="answer", id=event_id, sep=SEPARATOR).encode()
    return b"".join((head[: -len(_END)], b"data: ", body, _END, _END))


_END = SEPARATOR.encode()


class Subscriber:
    """One stream's mailbox: the newest event not yet sent, or the end."""

    def __init__(self) -> None:
        self._latest: bytes | None = None
        self._closed = False
        self._ready = asyncio.Event()

    def offer(self, message: bytes) -> None:
        self._latest = message
        self._ready.set()
        telemetry.PUSH_DELIVERIES.inc()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def next(self) -> bytes | None:
        """The next event to send; None once the topic has ended."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self._closed:
                return None
            message, self._latest = self._latest, None
            if message is not None:
                return message


Question = tuple[AnyMethod, str, Any]
"""The method, the account id, the parsed query."""


def _key(question: Question) -> tuple[str, str, Any]:
    """The hub's key of a question (a method by its name)."""
    method, account_id, query = question
    return method.name, account_id, query


class Topic:
    """The subscribers of one question, and the task that answers it for them."""

    def __init__(self, hub: Hub, question: Question, first: Answer) -> None:
        self.hub = hub
        self.key = _key(question)
        self.method, self.account_id, self.query = question
        self.current = first
        self.message = encode_answer(first)
        """The event of ``current``: encoded once, the same bytes for every subscriber."""
        self.subscribers: set[Subscriber] = set()
        self.wake = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def join(self, subscriber: Subscriber, first: Answer) -> bytes:
        """Add a subscriber that is about to be sent ``first``; the event to send it
        (the topic's shared bytes when ``first`` is its answer). A newer ``first``
        becomes the topic's answer, for every subscriber; an older one is followed by
        the topic's. Newer data makes the task look again."""
        if first.version > self.current.version:
            self._publish(first)
        self.subscribers.add(subscriber)
        self.wake.set()
        if first.body == self.current.body:
            return self.message
        subscriber.offer(self.message)
        return encode_answer(first)

    def _publish(self, answer: Answer) -> None:
        """Make ``answer`` the topic's, encoded once, and hand it to every subscriber."""
        self.current = answer
        self.message = encode_answer(answer)
        for subscriber in self.subscribers:
            subscriber.offer(self.message)

    async def _run(self) -> None:
        try:
            await self._follow()
        except Exception:
            # Not expected; the streams end (their clients reconnect) rather than go quiet.
            log.exception("push: the answers of a question could not be followed")
            self.hub.forget(self)  # a new stream of the question starts afresh
            for subscriber in self.subscribers:
                subscriber.close()

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.hub.period_s
        last_sent = loop.time()  # the subscribers were just sent their first answer
        while True:
            # Woken by new data, or after a period: look anyway, for changes no hook reports.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=period)
            # Leading edge: the first change after a quiet period goes at once; later
            # ones wait for the period to end (coalesced: one event per period at most).
            delay = last_sent + period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.wake.clear()
            # The period counts from the read, not from the send: under continuous
            # writes an event leaves every period, not every period plus a computation.
            began = loop.time()
            if await self._refresh():
                last_sent = began

    async def _refresh(self) -> bool:
        """Compute the answer when it may have changed; send it when it did."""
        hub = self.hub
        now = hub.clock()
        try:
            version = await hub.answers.version(self.account_id, self.method)
            if version == self.current.version and now < self.current.until:
                return False
            with hub.limiter.slot(self.account_id):
                answer = await hub.answers.answer(
                    self.method, self.account_id, self.query, now, version
                )
        except TooManyRequests:
            return False  # the account is busy: the next period tries again
        except StoreUnavailable:
            log.warning("push: the store did not answer; trying again next period")
            return False
        telemetry.PUSH_COMPUTATIONS.inc()
        if answer.body == self.current.body:
            self.current = answer  # same bytes, later version: nothing to send
            return False
        self._publish(answer)
        return True


class Hub:
    """Every topic of this process (used from the event loop, but for ``applied``)."""

    def __init__(
        self,
        answers: Answers,
        limiter: ConcurrencyLimiter,
        clock: Clock,
        period_ms: int,
    ) -> None:
        self.answers = answers
        self.limiter = limiter
        self.clock = clock
        self.period_s = period_ms / 1000
        self._topics: dict[tuple[str, str, Any], Topic] = {}
        self._by_account: dict[str, set[Topic]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen_to(self, store: Store) -> None:
        store.on_applied(self._applied)

    def subscribe(self, question: Question, first: Answer) -> tuple[Subscriber, bytes]:
        """A subscriber of ``question``, whose answer now is ``first``, and the first
        event to send it."""
        self._loop = asyncio.get_running_loop()
        key = _key(question)
        subscriber = Subscriber()
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = Topic(self, question, first)
            self._by_account.setdefault(topic.account_id, set()).add(topic)
        return subscriber, topic.join(subscriber, first)

    def unsubscribe(self, question: Question, subscriber: Subscriber) -> None:
        topic = self._topics.get(_key(question))
        if topic is None:
            return
        topic.subscribers.discard(subscriber)
        if not topic.subscribers:
            topic.task.cancel()
            self.forget(topic)

    def forget(self, topic: Topic) -> None:
        if self._topics.get(topic.key) is not topic:
            return
        del self._topics[topic.key]
        topics = self._by_account[topic.account_id]
        topics.discard(topic)
        if not topics:
            del self._by_account[topic.account_id]

    def _applied(self, account_id: str) -> None:
        """From the store's thread: wake the account's topics on the event loop."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server is gone
            loop.call_soon_threadsafe(self._wake, account_id)

    def _wake(self, account_id: str) -> None:
        for topic in self._by_account.get(account_id, ()):
            topic.wake.set()
