"""The FastAPI application: engactivity queries, event ingestion, discovery, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engactivity import __version__
from engactivity.account import check_account_id
from engactivity.api import prometheus as metrics
from engactivity.api.answers import Answers
from engactivity.api.errors import error_response, install_error_handlers, invalid_response
from engactivity.api.headerlimit import HeaderLimitMiddleware
from engactivity.api.limits import ConcurrencyLimiter, TooManyRequests
from engactivity.api.openapi import (
    ENGACTIVITY_BODY,
    ENGACTIVITY_PARAMETERS,
    ENGACTIVITY_RESPONSES,
    EVENTS_BODY,
    EVENTS_RESPONSES,
)
from engactivity.api.requestlog import RequestLogMiddleware, request_id_of
from engactivity.api.wallboard import install_wallboard
from engactivity.auth.keystore import KeyStore
from engactivity.auth.openapi import describe_security
from engactivity.auth.setup import install_auth
from engactivity.clock import Clock
from engactivity.events import decode_batch, decode_plain_batch, validate_batch
from engactivity.problems import InvalidRequest, Problem
from engactivity.query import parse_query
from engactivity.settings import Settings
from engactivity.store import Store
from engactivity.timeframe import span_for

log = logging.getLogger(__name__)
batch_log = logging.getLogger("engactivity.ingest")

_NDJSON_TYPES = {
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
}

MAX_QUERY_BODY_BYTES = 256 * 1024
"""A query body names five parameters; anything this large is not one."""

AccountId = Annotated[str, Path(description="The account id.", max_length=200)]


def _body(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def create_app(settings: Settings, clock: Clock, store: Store, keys: KeyStore | None) -> FastAPI:
    """Build the app on a store and a key store (None: authentication is off) opened by
    the caller, who also closes them (service.py): the app opens and closes neither."""
    limiter = ConcurrencyLimiter(settings.max_concurrent_per_account)
    answers = Answers(settings.answer_cache_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = store
        demo = None
        if settings.demo:
            from engactivity.simulate import start_demo

            demo = start_demo(store, clock)
        try:
            yield
        finally:
            if demo is not None:
                demo.stop()

    app = FastAPI(
        title="engactivity",
        version=__version__,
        description=(
            "A self-hosted implementation of the Engagement Activity method of the "
            "Operational Realtime API, with an ingestion endpoint for engagement events."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_wallboard(app)
    # Inside the request log and metrics middlewares, so refusals are logged and counted.
    install_auth(app, settings, keys)
    describe_security(app)
    app.add_middleware(HeaderLimitMiddleware)
    app.add_middleware(RequestLogMiddleware)
    metrics.install_metrics(app, settings.store_url)

    async def answer(account_id: str, params: dict[str, object]) -> Response:
        check_account_id(account_id)
        try:
            with limiter.slot(account_id):
                now = clock()
                query = parse_query(params)
                span = span_for(now, query.timeframe, query.interval)
                with metrics.timed("query"):
                    body = await answers.get(app.state.store, account_id, query, span)
                return _body(body)
        except TooManyRequests:
            metrics.count_throttled(account_id, settings.metrics_account_labels)
            return error_response(
                429,
                "too_many_requests",
                f"account {account_id} has too many concurrent requests "
                f"(limit {limiter.limit}); retry after 1 second",
                headers={"Retry-After": "1"},
                limit=limiter.limit,
            )

    @app.get(
        "/operations/api/account/{accountId}/engactivity",
        tags=["engactivity"],
        summary="Engagement activity metrics for an account",
        responses=ENGACTIVITY_RESPONSES,
        response_class=Response,
        openapi_extra={"parameters": ENGACTIVITY_PARAMETERS},
    )
    async def engactivity_get(request: Request, accountId: AccountId) -> Response:
        return await answer(accountId, dict(request.query_params))

    @app.post(
        "/operations/api/account/{accountId}/engactivity",
        tags=["engactivity"],
        summary="The same query, parameters in a JSON body",
        responses=ENGACTIVITY_RESPONSES,
        response_class=Response,
        openapi_extra={"requestBody": ENGACTIVITY_BODY},
    )
    async def engactivity_post(request: Request, accountId: AccountId) -> Response:
        params: dict[str, object] = dict(request.query_params)
        raw = await _read_body(request, MAX_QUERY_BODY_BYTES)
        if raw is None:
            return error_response(
                413,
                "payload_too_large",
                f"a query body may hold at most {MAX_QUERY_BODY_BYTES} bytes",
            )
        if raw.strip():
            try:
                body: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                raise InvalidRequest(
                    [
                        Problem(
                            "body", "the body must be a JSON object", "a JSON object of parameters"
                        )
                    ]
                )
            params.update(body)
        return await answer(accountId, params)

    @app.post(
        "/api/v1/accounts/{accountId}/events",
        tags=["ingestion"],
        summary="Ingest a batch of engagement events",
        responses=EVENTS_RESPONSES,
        response_class=Response,
        openapi_extra={"requestBody": EVENTS_BODY},
    )
    async def ingest(request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        body = await _read_body(request, settings.max_batch_bytes)
        if body is None:
            metrics.count_refused("too_large", 0)
            return _too_large(settings)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        ndjson = media in _NDJSON_TYPES or (
            media != "application/json" and not body.lstrip().startswith(b"[")
        )
        now = clock()
        # Plain batches are decoded and checked in one step; anything else, including
        # every invalid batch, takes the full path, which explains what is wrong.
        events = None if ndjson else decode_plain_batch(body, now)
        items: list[object] = []
        problems: list[Problem] = []
        if events is None:
            items, problems = decode_batch(body, ndjson)
        count = len(items) if events is None else len(events)
        if count > settings.max_batch_events:
            metrics.count_refused("too_large", 0)
            return _too_large(settings)
        if events is None:
            events, more = validate_batch(items, now)
            problems += more
        if problems:
            problems.sort(key=lambda p: -1 if p.index is None else p.index)
            batch_log.info(
                "batch rejected",
                extra={
                    "fields": {
                        "request_id": request_id_of(request.scope),
                        "account": accountId,
                        "events": count,
                        "problems": len(problems),
                    }
                },
            )
            metrics.count_refused("rejected", count)
            return invalid_response(problems)
        try:
            with metrics.timed("commit"):
                result = await asyncio.wrap_future(app.state.store.submit(accountId, events, now))
        except Exception:
            metrics.count_refused("failed", 0)
            raise
        metrics.count_batch(
            result.accepted,
            result.duplicates,
            result.expired,
            max((e.time_ms for e in events), default=0),
        )
        batch_log.info(
            "batch stored",
            extra={
                "fields": {
                    "request_id": request_id_of(request.scope),
                    "account": accountId,
                    "events": len(events),
                    "accepted": result.accepted,
                    "duplicates": result.duplicates,
                    "expired": result.expired,
                }
            },
        )
        return _json(result.as_json())

    @app.get(
        "/api/account/{accountId}/service/leDataReporting/baseURI.json",
        tags=["discovery"],
        summary="Domain discovery: where this account's engactivity API lives",
        response_class=Response,
    )
    async def discovery(
        accountId: AccountId,
        version: Annotated[str | None, Query(description="1.0")] = None,
    ) -> Response:
        check_account_id(accountId)
        if version not in (None, "1.0"):
            raise InvalidRequest(
                [Problem("version", f"version={version!r} is not supported", "1.0")]
            )
        return _json(
            {
                "service": "leDataReporting",
                "account": accountId,
                "baseURI": settings.advertised_host,
            }
        )

    @app.get("/healthz", tags=["health"], summary="The process is alive", response_class=Response)
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", tags=["health"], summary="The store answers", response_class=Response)
    async def readyz() -> Response:
        with metrics.timed("ping"):
            await run_in_threadpool(app.state.store.ping)
        return _json({"status": "ready"})

    return app


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(settings: Settings) -> Response:
    return error_response(
        413,
        "payload_too_large",
        f"a batch may hold at most {settings.max_batch_events} events "
        f"and {settings.max_batch_bytes} bytes",
        max_events=settings.max_batch_events,
        max_bytes=settings.max_batch_bytes,
    )
