"""The ingestion route: ``POST /api/v1/accounts/{accountId}/events``.

A thin adapter around the Ingestor (``engactivity/ingest.py``): the body is read
within the byte limit, and the outcomes become answers, log lines and metrics.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from engactivity import telemetry
from engactivity.api.access.routes import add_route
from engactivity.api.bodies import read_body
from engactivity.api.errors import error_response, invalid_response
from engactivity.api.openapi import EVENTS_BODY, EVENTS_RESPONSES, AccountId
from engactivity.api.requestlog import request_id_of
from engactivity.auth.access import WRITE_KEY
from engactivity.core.accounts import check_account_id
from engactivity.ingest import Accepted, BatchRejected, BatchTooLarge, Ingestor, is_ndjson

log = logging.getLogger("engactivity.ingest")


def install_ingestion(app: FastAPI, ingestor: Ingestor) -> None:
    limits = ingestor.limits

    def too_large() -> Response:
        telemetry.count_refused("too_large", 0)
        return error_response(
            413,
            "payload_too_large",
            limits.describe(),
            max_events=limits.max_events,
            max_bytes=limits.max_bytes,
        )

    async def ingest(request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        body = await read_body(request, limits.max_bytes)
        if body is None:
            return too_large()
        ndjson = is_ndjson(request.headers.get("content-type", ""), body)
        try:
            accepted = ingestor.accept(accountId, body, ndjson)
        except BatchTooLarge:
            return too_large()
        except BatchRejected as rejected:
            _log(
                request,
                "batch rejected",
                accountId,
                rejected.events,
                problems=len(rejected.problems),
            )
            telemetry.count_refused("rejected", rejected.events)
            return invalid_response(rejected.problems)
        return await _stored(request, accountId, accepted)

    add_route(
        app,
        "/api/v1/accounts/{accountId}/events",
        ingest,
        access=WRITE_KEY,
        methods=["POST"],
        tags=["ingestion"],
        summary="Ingest a batch of engagement events",
        responses=EVENTS_RESPONSES,
        response_class=Response,
        openapi_extra={"requestBody": EVENTS_BODY},
    )


async def _stored(request: Request, account: str, accepted: Accepted) -> Response:
    """The answer once the batch is durable (or the store's error, counted as failed)."""
    try:
        with telemetry.timed("commit"):
            result = await asyncio.wrap_future(accepted.stored)
    except Exception:
        telemetry.count_refused("failed", 0)
        raise
    events = accepted.events
    telemetry.count_batch(
        result.accepted,
        result.duplicates,
        result.expired,
        max((e.time for e in events), default=0),
    )
    _log(request, "batch stored", account, len(events), **result.as_json())
    return Response(orjson.dumps(result.as_json()), media_type="application/json")


def _log(request: Request, what: str, account: str, events: int, **fields: int) -> None:
    log.info(
        what,
        extra={
            "fields": {
                "request_id": request_id_of(request.scope),
                "account": account,
                "events": events,
                **fields,
            }
        },
    )
