"""Domain discovery (COMPAT.md section 1): where each service of an account lives.

Clients ask for a service by name before calling it, without credentials, and stop when
the answer is an error, some in their constructors. Every service this server provides
lives on the one host it advertises (``--public-host``). Names are case-sensitive, as
the hosted API's are; an unknown name answers 404 with the known ones.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import FastAPI, Path, Query
from starlette.responses import Response

from engactivity.api.access.routes import add_route
from engactivity.api.errors import error_response
from engactivity.api.openapi import AccountId
from engactivity.auth.access import OPEN
from engactivity.core.accounts import check_account_id
from engactivity.core.problems import InvalidRequest, Problem

SERVICES = ("leDataReporting", "agentVep", "accountConfigReadOnly")
"""The operational metrics, the Login Service, the account configuration (read-only)."""


def service_entry(service: str, account: str, host: str) -> dict[str, str]:
    """One service's answer, as discovery gives it and the login answer lists it."""
    return {"service": service, "account": account, "baseURI": host}


ServiceName = Annotated[
    str,
    Path(
        description="The service: " + ", ".join(SERVICES) + " (case-sensitive).",
        max_length=200,
        json_schema_extra={"enum": list(SERVICES)},
    ),
]


def install_discovery(app: FastAPI, advertised_host: str) -> None:
    async def discovery(
        accountId: AccountId,
        serviceName: ServiceName,
        version: Annotated[str | None, Query(description="1.0")] = None,
    ) -> Response:
        check_account_id(accountId)
        if serviceName not in SERVICES:
            return error_response(
                404,
                "not_found",
                f"no service {serviceName[:80]!r}; this server provides " + ", ".join(SERVICES),
                services=list(SERVICES),
            )
        if version not in (None, "1.0"):
            raise InvalidRequest(
                [Problem("version", f"version={version[:80]!r} is not supported", "1.0")]
            )
        body = service_entry(serviceName, accountId, advertised_host)
        return Response(orjson.dumps(body), media_type="application/json")

    add_route(
        app,
        "/api/account/{accountId}/service/{serviceName}/baseURI.json",
        discovery,
        access=OPEN,
        methods=["GET"],
        tags=["discovery"],
        summary="Domain discovery: where this account's service lives",
        response_class=Response,
    )
