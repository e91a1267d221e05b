"""Domain discovery, health, the OpenAPI document, and odd requests (never a 5xx)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import NOW_MS, Server

MakeServer = Callable[..., Server]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("discovery")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(srv: Server) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


SERVICES = ("leDataReporting", "agentVep", "accountConfigReadOnly")


def discovery_path(account: str, service: str = "leDataReporting") -> str:
    return f"/api/account/{account}/service/{service}/baseURI.json"


def assert_json_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert body.get("error") and body.get("message"), body
    return body


# -- domain discovery --------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["12345678", "le-12345", "acme", "a.b_c-9"])
def test_discovery_answers_the_served_address(
    srv: Server, client: httpx.Client, account: str
) -> None:
    response = client.get(discovery_path(account), params={"version": "1.0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {
        "service": "leDataReporting",
        "account": account,
        "baseURI": f"127.0.0.1:{srv.port}",
    }
    assert list(body) == ["service", "account", "baseURI"]


@pytest.mark.parametrize("service", SERVICES)
def test_discovery_answers_every_service_without_credentials(
    srv: Server, client: httpx.Client, service: str
) -> None:
    for params in ({"version": "1.0"}, {}):
        response = client.get(discovery_path("le123", service), params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {
            "service": service,
            "account": "le123",
            "baseURI": f"127.0.0.1:{srv.port}",
        }


@pytest.mark.parametrize(
    "service", ["other", "agentvep", "LEDATAREPORTING", "accountConfigReadWrite", "x" * 150]
)
def test_discovery_of_an_unknown_service_lists_the_known_ones(
    client: httpx.Client, service: str
) -> None:
    response = client.get(discovery_path("le123", service), params={"version": "1.0"})
    body = assert_json_error(response, 404)
    assert body["services"] == list(SERVICES)
    for known in SERVICES:
        assert known in str(body["message"])


def test_discovery_is_open_once_keys_exist(make_server: MakeServer) -> None:
    from tests.auth.keyhelp import create_key

    server = make_server()
    create_key(server.store_url, "le123", "read", kind="bearer")
    for service in SERVICES:
        response = httpx.get(server.base_url + discovery_path("le123", service), timeout=30)
        assert response.status_code == 200, response.text
    response = httpx.get(server.base_url + discovery_path("le123", "nope"), timeout=30)
    assert assert_json_error(response, 404)["services"] == list(SERVICES)


def test_discovered_host_serves_the_api(client: httpx.Client) -> None:
    base = client.get(discovery_path("4242"), params={"version": "1.0"}).json()["baseURI"]
    response = httpx.get(
        f"http://{base}/operations/api/account/4242/engactivity",
        params={"timeframe": 60, "v": 1},
        timeout=30,
    )
    assert response.status_code == 200
    assert list(response.json()) == ["metricsTotals"]


def test_discovery_public_host_flag(make_server: MakeServer) -> None:
    server = make_server(extra_args=["--public-host", "metrics.example.com:8443"])
    response = httpx.get(
        server.base_url + discovery_path("777"), params={"version": "1.0"}, timeout=30
    )
    assert response.status_code == 200
    assert response.json() == {
        "service": "leDataReporting",
        "account": "777",
        "baseURI": "metrics.example.com:8443",
    }


def test_discovery_public_host_env(make_server: MakeServer) -> None:
    server = make_server(env={"ENGACTIVITY_PUBLIC_HOST": "ea.example.org"})
    response = httpx.get(
        server.base_url + discovery_path("le777"), params={"version": "1.0"}, timeout=30
    )
    assert response.status_code == 200
    assert response.json() == {
        "service": "leDataReporting",
        "account": "le777",
        "baseURI": "ea.example.org",
    }


# -- health ------------------------------------------------------------------------------------


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ok"


def test_readyz(client: httpx.Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"]


# -- the OpenAPI document ----------------------------------------------------------------------


def test_openapi_lists_every_endpoint(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/operations/api/account/{accountId}/engactivity": {"get", "post"},
        "/api/v1/accounts/{accountId}/events": {"post"},
        "/api/account/{accountId}/service/{serviceName}/baseURI.json": {"get"},
        "/api/account/{accountId}/login": {"post"},
        "/api/account/{accountId}/refresh": {"post"},
        "/api/account/{accountId}/logout": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for route, methods in expected.items():
        assert route in paths, sorted(paths)
        assert methods <= set(paths[route]), (route, sorted(paths[route]))
    get_params = {
        p["name"]
        for p in paths["/operations/api/account/{accountId}/engactivity"]["get"]["parameters"]
    }
    assert {"accountId", "timeframe", "v", "skillIds", "agentIds", "interval"} <= get_params


# -- unknown paths and methods -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/nope",
        "/operations/api/account/acme/engactivity/extra",
        "/operations/api/account/acme",
        "/operations/api/account//engactivity",
        "/api/account/acme/service/other/baseURI.json",
        "/api/v2/accounts/acme/events",
    ],
)
def test_unknown_paths_404_json(client: httpx.Client, url: str) -> None:
    assert_json_error(client.get(url), 404)


def test_wrong_method_is_json(client: httpx.Client) -> None:
    assert_json_error(client.delete("/operations/api/account/acme/engactivity"), 405)
    assert_json_error(client.get("/api/v1/accounts/acme/events"), 405)
    assert_json_error(client.put("/healthz"), 405)


# -- odd inputs: never a 5xx, always a JSON body -----------------------------------------------

ODD_ACCOUNTS = [
    "a" * 64,
    "a" * 65,
    "a" * 300,
    "%C3%BC",
    "%00",
    "a%20b",
    "a%2Fb",
    "-abc",
    "_x",
    ".",
    "...",
    "a;b",
    "%3Cscript%3E",
    "null",
    "0",
    "-1",
    "1e9",
    "%E2%80%AE",
    "a%0Ab",
    "%25",
]


def assert_sane(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    response.json()


@pytest.mark.parametrize("account", ODD_ACCOUNTS)
def test_odd_account_ids(client: httpx.Client, account: str) -> None:
    query = f"/operations/api/account/{account}/engactivity?timeframe=60&v=1"
    assert_sane(client.get(query))
    assert_sane(
        client.post(f"/operations/api/account/{account}/engactivity", json={"timeframe": 5, "v": 1})
    )
    assert_sane(client.get(discovery_path(account) + "?version=1.0"))
    assert_sane(client.post(f"/api/v1/accounts/{account}/events", json=[]))


@pytest.mark.parametrize("account", ["a;b", "a" * 65, "a" * 300])
def test_bad_account_id_names_the_parameter(client: httpx.Client, account: str) -> None:
    path = f"/operations/api/account/{account}/engactivity"
    for response in (
        client.get(f"{path}?timeframe=60&v=1"),
        client.post(path, json={"timeframe": 60, "v": 1}),
    ):
        body = assert_json_error(response, 400)
        assert body["field"] == "accountId"
        assert "64 characters" in body["allowed"]


HUGE = "9" * 5000


@pytest.mark.parametrize(
    "params",
    [
        {"timeframe": HUGE, "v": "1"},
        {"timeframe": "-" + HUGE, "v": "1"},
        {"timeframe": "60", "v": HUGE},
        {"timeframe": "60", "v": "1", "interval": HUGE},
        {"timeframe": "60", "v": "1", "skillIds": HUGE},
        {"timeframe": "60", "v": "1", "agentIds": "1," + HUGE},
        {"timeframe": "60", "v": "1", "skillIds": ",".join(["1"] * 2000)},
        {"timeframe": "60", "v": "1", "skillIds": ",".join(str(i) for i in range(1500))},
        {"timeframe": "1" * 40, "v": "1"},
        {"timeframe": "\u0661\u0662", "v": "1"},  # Arabic-Indic digits
        {"timeframe": "\x00", "v": "1"},
        {"timeframe": "60", "v": "1", "skillIds": "\u00b2"},  # superscript two
        {"timeframe": "60", "v": "1", "agentIds": "1_000"},
        {"timeframe": "60", "v": "1", "interval": "nan"},
        {"timeframe": "inf", "v": "1"},
    ],
)
def test_odd_query_values(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/operations/api/account/acme/engactivity", params=params)
    assert_sane(response)
    assert response.status_code in (200, 400)
    response = client.post("/operations/api/account/acme/engactivity", json=params)
    assert_sane(response)
    assert response.status_code in (200, 400)


def test_repeated_parameters(client: httpx.Client) -> None:
    url = "/operations/api/account/acme/engactivity?timeframe=60&timeframe=5&v=1&v=1"
    assert_sane(client.get(url))


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"}",
        b"[]",
        b"null",
        b"123",
        b'"x"',
        b"NaN",
        b'{"timeframe": 1e400, "v": 1}',
        b'{"timeframe": NaN, "v": 1}',
        b'{"timeframe": Infinity, "v": 1}',
        b'{"timeframe": 60, "v": 1, "skillIds": [1e400]}',
        b'{"timeframe": 60, "v": 1, "skillIds": 99999999999999999999999999}',
        b'{"timeframe": 60, "v": 1, "agentIds": [18446744073709551616]}',
        b'{"timeframe": 60, "v": 1, "agentIds": [9223372036854775808]}',
        b'{"timeframe": 60, "v": 1, "agentIds": [-9223372036854775809]}',
        b'{"timeframe": 60, "v": 1, "agentIds": [1e18, 1.0e0]}',
        b'{"timeframe": 60, "v": 1, "skillIds": {"1": 2}}',
        b'{"timeframe": 60, "v": 1, "skillIds": [[[[1]]]]}',
        b'{"timeframe": {"$gt": 0}, "v": 1}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"\xff\xfe\x00{",
        b'{"timeframe": "60", "v": "1", "\xff": 1}',
        b'{"timeframe": 60, "v": 1}' + b" " * 10,
        b'{"timeframe": 60, "v": 1, "timeframe": 0}',
        b" " * 300_000,
        b'{"timeframe": 60, "v": 1, "pad": "' + b"x" * 300_000 + b'"}',
    ],
)
def test_bad_json_bodies(client: httpx.Client, raw: bytes) -> None:
    for content_type in ("application/json", "text/plain"):
        response = client.post(
            "/operations/api/account/acme/engactivity",
            content=raw,
            headers={"content-type": content_type},
        )
        assert_sane(response)
    response = client.post(
        "/api/v1/accounts/acme/events", content=raw, headers={"content-type": "application/json"}
    )
    assert_sane(response)
    response = client.post(
        "/api/v1/accounts/acme/events",
        content=raw,
        headers={"content-type": "application/x-ndjson"},
    )
    assert_sane(response)


def test_odd_discovery_versions(client: httpx.Client) -> None:
    for version in ["", "2.0", "x" * 5000, "\x00", "1.0,1.0"]:
        assert_sane(client.get(discovery_path("acme"), params={"version": version}))


def test_server_still_healthy_after_odd_inputs(srv: Server, client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    response = srv.query("acme", timeframe=60)
    assert response.status_code == 200
    assert NOW_MS > 0
