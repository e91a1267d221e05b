"""Health: the process answers (``/healthz``), the store answers (``/readyz``)."""

from __future__ import annotations

import orjson
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engactivity import telemetry
from engactivity.api.access.routes import add_route
from engactivity.auth.access import OPEN
from engactivity.store import Store

_OK = orjson.dumps({"status": "ok"})
_READY = orjson.dumps({"status": "ready"})


def install_health(app: FastAPI, store: Store) -> None:
    async def healthz() -> Response:
        return Response(_OK, media_type="application/json")

    async def readyz() -> Response:
        with telemetry.timed("ping"):
            await run_in_threadpool(store.ping)
        return Response(_READY, media_type="application/json")

    add_route(
        app,
        "/healthz",
        healthz,
        access=OPEN,
        methods=["GET"],
        tags=["health"],
        summary="The process is alive",
        response_class=Response,
    )
    add_route(
        app,
        "/readyz",
        readyz,
        access=OPEN,
        methods=["GET"],
        tags=["health"],
        summary="The store answers",
        response_class=Response,
    )
