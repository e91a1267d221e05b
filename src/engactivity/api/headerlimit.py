"""A bound on request header size (uvicorn's httptools parser sets none).

Over ``MAX_HEADER_BYTES`` of header names and values: 431 with a JSON body, before
any other work.
"""

from __future__ import annotations

from engactivity.api.errors import error_response
from engactivity.api.requestlog import ASGIApp, Receive, Scope, Send

MAX_HEADER_BYTES = 32 * 1024


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(k) + len(v) for k, v in scope.get("headers") or [])
            if size > MAX_HEADER_BYTES:
                refusal = error_response(
                    431,
                    "headers_too_large",
                    f"request headers may hold at most {MAX_HEADER_BYTES} bytes",
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)
