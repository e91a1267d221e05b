"""Event streams of the query endpoints: ``Accept: text/event-stream`` (Server-Sent
Events, encoded by sse-starlette).

The route has already checked the credentials and the parameters, and computed the
first answer under a slot of the account's concurrency limit (so every refusal is the
usual JSON error, before any stream starts). The stream sends that answer at once,
then each new one the hub (pushhub.py) hands it, heartbeats (comment lines) while
nothing changes, and, when the server shuts down, a last ``end`` event before it
closes. An open stream holds no concurrency slot while idle; a process keeps at most
``--max-streams`` open, and refuses more with 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import anyio
import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from engactivity import telemetry
from engactivity.api.answers import Answer
from engactivity.api.errors import error_response
from engactivity.api.pushhub import SEPARATOR, Hub, Question
from engactivity.api.shutdown import RETRY_AFTER_S

log = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"

_SHUTDOWN_GRACE_S = 2.0
"""Time a stream gets to send its ``end`` event once the shutdown began; below the
default --shutdown-timeout (10 s), after which uvicorn cuts connections."""


def wants_stream(request: Request) -> bool:
    """The client lists text/event-stream among the media types it accepts (with a
    quality above 0): EventSource sends exactly that."""
    accept = request.headers.get("accept", "")
    if "event-stream" not in accept.lower():
        return False  # a poll's usual */* or application/json, not parsed
    for media_range in accept.split(","):
        kind, *params = media_range.split(";")
        if kind.strip().lower() == EVENT_STREAM and _quality(params) > 0:
            return True
    return False


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0  # not a quality: not asked for
    return 1.0


class Streams:
    """The open event streams of this process."""

    def __init__(self, hub: Hub, heartbeat_s: int, send_timeout_s: int, max_streams: int) -> None:
        self.hub = hub
        self.heartbeat_s = heartbeat_s
        self.send_timeout_s = send_timeout_s
        """A client that takes no bytes for this long is dropped (its socket is full)."""
        self.max_streams = max_streams
        self.open = 0

    def full(self) -> Response | None:
        """The refusal when no stream may open now, else None."""
        if self.open < self.max_streams:
            return None
        return error_response(
            503,
            "too_many_streams",
            f"this server process keeps at most {self.max_streams} event streams open; "
            f"retry in {RETRY_AFTER_S} seconds, or poll",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            limit=self.max_streams,
        )

    def respond(self, question: Question, first: Answer) -> Response:
        """The stream of ``question``, whose answer now is ``first``."""
        shutdown = anyio.Event()
        return _EventStream(
            self._events(question, first, shutdown),
            ping=self.heartbeat_s,
            sep=SEPARATOR,
            send_timeout=self.send_timeout_s,
            shutdown_event=shutdown,
            shutdown_grace_period=_SHUTDOWN_GRACE_S,
        )

    async def _events(
        self, question: Question, first: Answer, shutdown: anyio.Event
    ) -> AsyncIterator[bytes]:
        # Subscribed here, once the body is under way: a response never streamed (HEAD,
        # a client gone before the headers) leaves nothing behind.
        subscriber, opening = self.hub.subscribe(question, first)
        self.open += 1
        telemetry.PUSH_STREAMS.inc()

        async def end_on_shutdown() -> None:
            await shutdown.wait()
            subscriber.close()

        watcher = asyncio.get_running_loop().create_task(end_on_shutdown())
        try:
            yield opening
            while (message := await subscriber.next()) is not None:
                yield message
            yield _end_event("shutting_down" if shutdown.is_set() else "ended")
        finally:
            watcher.cancel()
            self.hub.unsubscribe(question, subscriber)
            self.open -= 1
            telemetry.PUSH_STREAMS.dec()


class _EventStream(EventSourceResponse):
    """sse-starlette's response, but a client that stopped taking bytes ends its stream
    with a warning: a normal event of a server, not a fault with a traceback."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.warning(
                "push: a stream's client took no bytes for %s s; the stream is dropped",
                self.send_timeout,
            )


def _end_event(reason: str) -> bytes:
    """The last event: why the stream ends, and when to reconnect (``retry``, ms)."""
    data = orjson.dumps({"reason": reason, "retryAfterSeconds": RETRY_AFTER_S}).decode()
    return ServerSentEvent(data, event="end", retry=RETRY_AFTER_S * 1000, sep=SEPARATOR).encode()
