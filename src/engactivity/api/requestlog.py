"""Request ids and one log line per request (a plain ASGI middleware).

The id is taken from the ``X-Request-ID`` header when it is a sane token (at most
128 letters, digits and ``._:-``), else generated; it is returned in the response's
``X-Request-ID`` and kept in ``request.state.request_id`` for other log lines.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from engactivity.logs import SECRET_WORDS, is_secret_name

log = logging.getLogger("engactivity.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_GOOD_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            if _GOOD_ID.fullmatch(text):
                return text
            break
    return _ids.new()


class _Ids:
    """Generated request ids: 32 hex digits, a random half per process and a count.

    Unique without a call to ``os.urandom`` per request, a system call that gives up
    the GIL (and may wait to win it back behind the store's writer); a forked worker
    draws its own half.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._count) & _COUNT_MASK:016x}"


_COUNT_MASK = 2**64 - 1
_ids = _Ids()


def masked_query(raw: bytes) -> str:
    """The query string with the values of secret-looking parameters replaced."""
    if not raw:
        return ""
    text = raw.decode("latin-1")
    lowered = text.lower()
    if "%" not in text and "+" not in text and not any(w in lowered for w in SECRET_WORDS):
        return text  # the usual case, without parsing
    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode([(k, "***" if is_secret_name(k) else v) for k, v in pairs], safe=",*")


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope.get("headers") or [])
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 500
        size = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                query = masked_query(scope.get("query_string", b""))
                path = scope.get("path", "")
                client = scope.get("client")
                log.info(
                    "%s %s%s %d",
                    scope.get("method", ""),
                    path,
                    f"?{query}" if query else "",
                    status,
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": scope.get("method", ""),
                            "path": path,
                            "query": query,
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                            "bytes": size,
                            "client": client[0] if client else None,
                        },
                        # The text format has method, path and status in the message.
                        "text_fields": ("request_id", "duration_ms", "bytes", "client"),
                    },
                )
