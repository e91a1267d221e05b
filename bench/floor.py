"""The floor: what any server on this HTTP stack must pay for a given answer.

Two parts, added together per query:

- :func:`encode_time_s`: ``orjson.dumps`` of the (parsed) answer, median of many runs.
- a tiny FastAPI app, served by uvicorn exactly like engactivity, that returns a
  precomputed body of the same bytes (``GET /floor/{name}``, or ``POST`` for a query sent
  by POST: the request's body is read and ignored); its latency is measured
  with the same single-connection wrk run as the servers.

Run: ``python -m bench.floor --bodies DIR --port 8092`` (serves ``DIR/<name>.json``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response


def encode_time_s(doc: Any, budget_s: float = 1.0, max_runs: int = 200) -> float:
    """Median time of ``orjson.dumps(doc)`` over up to ``max_runs`` runs (within a budget)."""
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_runs and (len(times) < 5 or time.perf_counter() < deadline):
        started = time.perf_counter()
        orjson.dumps(doc)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def create_app(bodies: dict[str, bytes]) -> FastAPI:
    # FastAPI's OpenTelemetry hooks off, as in engactivity's app: the floor is the
    # least a FastAPI app can do.
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/floor/{name}")
    async def floor(name: str) -> Response:
        return Response(bodies[name], media_type="application/json")

    @app.post("/floor/{name}")
    async def floor_post(name: str, request: Request) -> Response:
        """The same for a query sent by POST (its body is read, as any server must)."""
        await request.body()
        return Response(bodies[name], media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bodies", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep-alive-s", type=int, default=5, help="uvicorn's default: 5")
    args = parser.parse_args()
    bodies = {path.stem: path.read_bytes() for path in sorted(args.bodies.glob("*.json"))}
    uvicorn.run(
        create_app(bodies),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=args.keep_alive_s,
    )


if __name__ == "__main__":
    main()
