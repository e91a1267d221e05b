"""The routes of every registered method: GET with a query string, POST with a JSON or
form body (querybody.py); either one as an event stream with ``Accept:
text/event-stream`` (push.py).

Both read the same parameters (the POST also reads the query string; body values win),
check the account id, take a slot of the account's concurrency limit (429 at once when
none is free), read the parameters (or find the question asked lately: questions.py)
and answer through the answer caches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from engactivity import telemetry
from engactivity.api.access.routes import add_route
from engactivity.api.answers import Answers
from engactivity.api.bodies import read_body
from engactivity.api.errors import error_response
from engactivity.api.limits import ConcurrencyLimiter, TooManyRequests
from engactivity.api.openapi import ERROR_RESPONSES, AccountId
from engactivity.api.push import EVENT_STREAM, Streams, wants_stream
from engactivity.api.querybody import FORM, body_params
from engactivity.api.questions import Questions, Raw
from engactivity.auth.access import READ_KEY
from engactivity.clock import Clock
from engactivity.core.accounts import check_account_id
from engactivity.methods.method import AnyMethod

QUERY_PREFIX = "/operations/api/account/"
"""Where every method's path begins."""

MAX_QUERY_BODY_BYTES = 256 * 1024
"""A query body names a few parameters; anything this large is not one."""


class MethodRoutes:
    """Answers the methods' questions; one per app."""

    def __init__(
        self,
        answers: Answers,
        limiter: ConcurrencyLimiter,
        streams: Streams,
        clock: Clock,
        account_labels: bool,
    ) -> None:
        self.answers = answers
        self.limiter = limiter
        self.streams = streams
        self.clock = clock
        self.account_labels = account_labels
        self.questions = Questions()

    async def answer(
        self,
        method: AnyMethod,
        account_id: str,
        raw: Raw,
        params: Callable[[], dict[str, object]],
        stream: bool,
    ) -> Response:
        """The answer as JSON, or with ``stream`` as an event stream (api/push.py), to
        the question asked by ``raw`` (whose parameters ``params`` reads)."""
        check_account_id(account_id)
        if stream and (refusal := self.streams.full()) is not None:
            return refusal
        try:
            with self.limiter.slot(account_id):
                now = self.clock()
                query = self.questions.parsed(method, raw, params)
                with telemetry.timed("query"):
                    answer = await self.answers.answer(method, account_id, query, now)
        except TooManyRequests:
            telemetry.count_throttled(account_id, self.account_labels)
            limit = self.limiter.limit
            return error_response(
                429,
                "too_many_requests",
                f"account {account_id} has too many concurrent requests "
                f"(limit {limit}); retry after 1 second",
                headers={"Retry-After": "1"},
                limit=limit,
            )
        if stream:
            return self.streams.respond((method, account_id, query), answer)
        return Response(answer.body, media_type="application/json")

    def install(self, app: FastAPI, method: AnyMethod) -> None:
        path = f"{QUERY_PREFIX}{{accountId}}/{method.name}"

        async def get(request: Request, accountId: AccountId) -> Response:
            raw: Raw = (request.scope["query_string"], b"", "")
            return await self.answer(
                method, accountId, raw, lambda: dict(request.query_params), wants_stream(request)
            )

        async def post(request: Request, accountId: AccountId) -> Response:
            body = await read_body(request, MAX_QUERY_BODY_BYTES)
            if body is None:
                return error_response(
                    413,
                    "payload_too_large",
                    f"a query body may hold at most {MAX_QUERY_BODY_BYTES} bytes",
                )
            kind = request.headers.get("content-type", "")

            def params() -> dict[str, object]:
                # Body values win over the query string's.
                return {**request.query_params, **body_params(body, kind)}

            raw: Raw = (request.scope["query_string"], body, kind)
            return await self.answer(method, accountId, raw, params, wants_stream(request))

        responses = _responses(method)
        add_route(
            app,
            path,
            get,
            access=READ_KEY,
            plain=True,
            methods=["GET"],
            tags=[method.name],
            summary=method.summary,
            responses=responses,
            response_class=Response,
            openapi_extra={"parameters": method.parameters},
            name=f"{method.name}_get",
        )
        add_route(
            app,
            path,
            post,
            access=READ_KEY,
            plain=True,
            methods=["POST"],
            tags=[method.name],
            summary="The same query, parameters in a JSON or form body",
            responses=responses,
            response_class=Response,
            openapi_extra={
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {"schema": method.body},
                        FORM: {"schema": _form_schema(method)},
                    },
                }
            },
            name=f"{method.name}_post",
        )


def _form_schema(method: AnyMethod) -> dict[str, Any]:
    """A form carries the query string's parameters, as strings."""
    names = [parameter["name"] for parameter in method.parameters]
    return {"type": "object", "properties": {name: {"type": "string"} for name in names}}


def _responses(method: AnyMethod) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The metrics",
            "content": {
                "application/json": {"schema": method.response},
                EVENT_STREAM: {
                    "schema": {"type": "string"},
                    "description": "With Accept: text/event-stream: `answer` events "
                    "(data: the JSON body above), heartbeats, a last `end` event "
                    "(docs/api.md, Push)",
                },
            },
        },
        **ERROR_RESPONSES,
    }
