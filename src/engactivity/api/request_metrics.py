"""Counts and times every HTTP request by route template, method and status."""

from __future__ import annotations

import time
from typing import Any

from engactivity.api.requestlog import ASGIApp, Receive, Scope, Send
from engactivity.telemetry import HTTP_LATENCY, HTTP_REQUESTS, labelled


class MetricsMiddleware:
    """Counts and times every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            code = str(status)
            labelled(HTTP_REQUESTS, endpoint, scope.get("method", ""), code).inc()
            labelled(HTTP_LATENCY, endpoint, code).observe(time.perf_counter() - started)
