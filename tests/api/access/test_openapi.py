"""The OpenAPI description says how to authenticate, and says it truthfully.

Checked against a real server that has a key: every operation the description marks
as secured is refused without credentials and served with the declared ones; every
other operation is served without any, or refused only where its answers say so. And
in process: what the description says of an operation is what its route declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import Response

from engactivity.api.access.openapi import describe_security
from engactivity.api.access.routes import add_route
from engactivity.api.access.table import RouteTable
from engactivity.auth.access import ANY_KEY, METRICS, OPEN, READ_KEY, WRITE_KEY
from engactivity.methods import METHODS
from tests.auth.keyhelp import bearer, create_key
from tests.conftest import Server

ACCOUNT = "acme"
METRICS_TOKEN = "metrics-s3cret"
ENTITY_1 = {"skills": {"name": "s"}, "users": {"loginName": "u"}, "agentGroups": {"name": "g"}}


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[Server, dict[str, Any]]]:
    srv = Server(tmp_path, extra_args=["--metrics-token", METRICS_TOKEN]).start()
    key = create_key(srv.store_url, ACCOUNT, "read,write", kind="bearer")
    # Entity 1 of each kind, so that the configuration's by-id paths are served too.
    configuration = {kind: [{"id": 1, **fields}] for kind, fields in ENTITY_1.items()}
    url = f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/configuration"
    assert httpx.post(url, json=configuration, headers=bearer(key)).status_code == 200
    yield srv, key
    srv.stop()


def _call(srv: Server, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    url = srv.base_url + path.replace("{accountId}", ACCOUNT)
    for id_param in ("{skillId}", "{userId}", "{agentGroupId}"):
        url = url.replace(id_param, "1")
    method_paths = tuple(f"/{method.name}" for method in METHODS)
    # Valid parameters for every method (agentactivity requires agentIds; the others
    # ignore it or take it as a filter).
    params = {"timeframe": 60, "v": 1, "agentIds": "all"} if path.endswith(method_paths) else None
    body = "[]" if method == "post" and path.endswith("/events") else None
    if method == "post" and path.endswith("/configuration"):
        body = "{}"
    return httpx.request(method, url, params=params, content=body, headers=headers, timeout=30)


def test_security_schemes_are_declared_and_true(
    locked: tuple[Server, dict[str, Any]],
) -> None:
    srv, key = locked
    served = httpx.get(f"{srv.base_url}/openapi.json", timeout=30).json()
    schemes = served["components"]["securitySchemes"]
    assert schemes["bearerKey"]["type"] == "http"
    assert schemes["bearerKey"]["scheme"] == "bearer"
    oauth1 = schemes["oauth1"]
    assert (oauth1["type"], oauth1["in"], oauth1["name"]) == ("apiKey", "header", "Authorization")
    assert "OAuth 1.0a" in oauth1["description"]

    credentials = {
        "bearerKey": bearer(key),
        "metricsToken": {"Authorization": f"Bearer {METRICS_TOKEN}"},
    }
    secured: set[tuple[str, str]] = set()
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            refused = _call(srv, method, path, {})
            if "security" not in operation:
                # Open; the Login Service's refresh and logout check the session's own
                # secrets (a csrf value in the body, which no OpenAPI scheme can name)
                # and say so in their answers.
                assert refused.status_code != 401 or "401" in operation["responses"], path
                continue
            secured.add((method, path))
            assert refused.status_code == 401, (method, path, refused.text)
            assert "401" in operation["responses"]
            names = {name for requirement in operation["security"] for name in requirement}
            usable = names & credentials.keys()
            assert usable, (method, path, names)
            for name in usable:
                served_ok = _call(srv, method, path, credentials[name])
                assert served_ok.status_code == 200, (method, path, name, served_ok.text)
    assert secured == {
        *(
            (verb, f"/operations/api/account/{{accountId}}/{method.name}")
            for method in METHODS
            for verb in ("get", "post")
        ),
        ("post", "/api/v1/accounts/{accountId}/events"),
        ("post", "/api/v1/accounts/{accountId}/configuration"),
        *(
            ("get", f"/api/account/{{accountId}}/configuration/le-users/{kind}{one}")
            for kind, id_param in (
                ("skills", "skillId"),
                ("users", "userId"),
                ("agentGroups", "agentGroupId"),
            )
            for one in ("", f"/{{{id_param}}}")
        ),
        ("get", "/metrics"),
    }
    # OAuth 1.0a is offered wherever a bearer key is.
    for method, path in secured - {("get", "/metrics")}:
        security = served["paths"][path][method]["security"]
        assert {"bearerKey": []} in security and {"oauth1": []} in security


async def _ok() -> Response:
    return Response(b"ok")


def test_the_route_declarations_drive_the_description() -> None:
    """Whatever a route declares is what its operations say; nothing is read from paths."""
    app = FastAPI()
    describe_security(app)
    add_route(app, "/a/{accountId}/x", _ok, access=READ_KEY, methods=["GET"])
    add_route(app, "/a/{accountId}/x", _ok, access=WRITE_KEY, methods=["PUT"])
    add_route(app, "/metrics-like", _ok, access=METRICS, methods=["GET"])
    add_route(app, "/anyone", _ok, access=OPEN, methods=["GET"])
    add_route(app, "/any-key", _ok, access=ANY_KEY, methods=["GET"])
    paths = app.openapi()["paths"]

    read, write = paths["/a/{accountId}/x"]["get"], paths["/a/{accountId}/x"]["put"]
    for operation, scope in ((read, "read"), (write, "write")):
        assert operation["security"] == [{"bearerKey": []}, {"oauth1": []}]
        assert set(operation["responses"]) >= {"401", "403"}
        assert f"lacks the {scope} scope" in operation["responses"]["403"]["description"]
    assert paths["/metrics-like"]["get"]["security"] == [{"metricsToken": []}]
    assert "403" not in paths["/metrics-like"]["get"]["responses"]
    assert "security" not in paths["/anyone"]["get"]
    assert "401" not in paths["/anyone"]["get"]["responses"]
    assert paths["/any-key"]["get"]["security"] == [{"bearerKey": []}, {"oauth1": []}]
    assert "403" not in paths["/any-key"]["get"]["responses"]
    # FastAPI's own pages are declared open by describe_security: the table accepts them.
    assert RouteTable(app.routes).find("GET", "/docs").access == OPEN
