"""Domain discovery (SEMANTICS.md section 7): where an account's API lives."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import FastAPI, Query
from starlette.responses import Response

from engactivity.api.access.routes import add_route
from engactivity.api.openapi import AccountId
from engactivity.auth.access import OPEN
from engactivity.core.accounts import check_account_id
from engactivity.core.problems import InvalidRequest, Problem


def install_discovery(app: FastAPI, advertised_host: str) -> None:
    async def discovery(
        accountId: AccountId,
        version: Annotated[str | None, Query(description="1.0")] = None,
    ) -> Response:
        check_account_id(accountId)
        if version not in (None, "1.0"):
            raise InvalidRequest(
                [Problem("version", f"version={version!r} is not supported", "1.0")]
            )
        body = {"service": "leDataReporting", "account": accountId, "baseURI": advertised_host}
        return Response(orjson.dumps(body), media_type="application/json")

    add_route(
        app,
        "/api/account/{accountId}/service/leDataReporting/baseURI.json",
        discovery,
        access=OPEN,
        methods=["GET"],
        tags=["discovery"],
        summary="Domain discovery: where this account's engactivity API lives",
        response_class=Response,
    )
