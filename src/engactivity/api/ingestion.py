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

from engactivity.api import prometheus as metrics
from engactivity.api.bodies import read_body
from engactivity.api.errors import error_response, invalid_response
from engactivity.api.openapi import EVENTS_BODY, EVENTS_RESPONSES, AccountId
from engactivity.api.requestlog import request_id_of
from engactivity.core.accounts import check_account_id
from engactivity.ingest import BatchRejected, BatchTooLarge, Ingestor, is_ndjson

log = logging.getLogger("engactivity.ingest")


class IngestionRoute:
    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.limits = ingestor.limits

    async def ingest(self, request: Request, accountId: AccountId) -> Response:
        check_account_id(accountId)
        body = await read_body(request, self.limits.max_bytes)
        if body is None:
            return self._too_large()
        ndjson = is_ndjson(request.headers.get("content-type", ""), body)
        try:
            accepted = self.ingestor.accept(accountId, body, ndjson)
        except BatchTooLarge:
            return self._too_large()
        except BatchRejected as rejected:
            count = rejected.events
            _log(request, "batch rejected", accountId, count, problems=len(rejected.problems))
            metrics.count_refused("rejected", count)
            return invalid_response(rejected.problems)
        try:
            with metrics.timed("commit"):
                result = await asyncio.wrap_future(accepted.stored)
        except Exception:
            metrics.count_refused("failed", 0)
            raise
        events = accepted.events
        newest = max((e.time for e in events), default=0)
        metrics.count_batch(result.accepted, result.duplicates, result.expired, newest)
        _log(request, "batch stored", accountId, len(events), **result.as_json())
        return Response(orjson.dumps(result.as_json()), media_type="application/json")

    def _too_large(self) -> Response:
        metrics.count_refused("too_large", 0)
        return error_response(
            413,
            "payload_too_large",
            self.limits.describe(),
            max_events=self.limits.max_events,
            max_bytes=self.limits.max_bytes,
        )


def install_ingestion(app: FastAPI, ingestor: Ingestor) -> None:
    app.add_api_route(
        "/api/v1/accounts/{accountId}/events",
        IngestionRoute(ingestor).ingest,
        methods=["POST"],
        tags=["ingestion"],
        summary="Ingest a batch of engagement events",
        responses=EVENTS_RESPONSES,
        response_class=Response,
        openapi_extra={"requestBody": EVENTS_BODY},
    )


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
