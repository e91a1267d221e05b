"""A request cut off by the end of the shutdown grace period answers 503, not 500.

On SIGTERM uvicorn lets the requests in flight run for ``--shutdown-timeout`` seconds,
then cancels those still running (most often one whose body is still arriving) and,
for one that has not answered yet, writes a plain-text 500. This middleware catches
the cancellation first and answers ``503 {"error": "shutting_down", ...}`` with
``Retry-After`` and ``Connection: close``. Such a request was not done: an event batch
cut off in its upload is not stored. One cut off while its commit was under way may
be stored all the same; resending it is safe, as always (its events count once).
"""

from __future__ import annotations

import asyncio
import logging

from engactivity.api.errors import error_response
from engactivity.api.requestlog import ASGIApp, Message, Receive, Scope, Send, request_id_of

log = logging.getLogger("engactivity")

RETRY_AFTER_S = 5
"""Long enough for a restart, or for a load balancer to send the retry elsewhere."""


class ShutdownGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def watched(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            if answered:
                raise  # half an answer cannot be taken back: uvicorn closes the connection
            # Not raised again: the task ends here, having answered (only the shutdown
            # cancels a request's task).
            log.warning(
                "request cut off by the shutdown: 503",
                extra={"fields": {"request_id": request_id_of(scope), "path": scope["path"]}},
            )
            await _shutting_down(scope, receive, send)


async def _shutting_down(scope: Scope, receive: Receive, send: Send) -> None:
    refusal = error_response(
        503,
        "shutting_down",
        f"the server is shutting down; retry in {RETRY_AFTER_S} seconds",
        headers={"Retry-After": str(RETRY_AFTER_S), "Connection": "close"},
    )
    await refusal(scope, receive, send)
