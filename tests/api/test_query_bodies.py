"""The query methods' parameters as clients send them, over real HTTP: a query string,
a JSON body (nulls are absent), a form body, Content-Type json on a GET."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.clients.traffic import contact_centre
from tests.conftest import MIN, NOW_MS, Server

ACCOUNT = "4711"
FORM = "application/x-www-form-urlencoded"

QUESTIONS: dict[str, dict[str, str]] = {
    "engactivity": {"timeframe": "60", "v": "1", "skillIds": "all", "agentIds": "7,8"},
    "queuehealth": {"timeframe": "60", "v": "1", "skillIds": "2,5", "interval": "30"},
    "queuestate": {"v": "1", "skillIds": "all"},
    "sla": {"timeframe": "60", "v": "1", "skillIds": "2", "histogram": "0,30,60"},
    "agentactivity": {"timeframe": "60", "v": "1", "agentIds": "all", "interval": "15"},
}


@pytest.fixture
def busy(server: Server) -> Server:
    """A server (no key yet: loopback requests need none) with every kind of event."""
    with server.client() as client:
        stored = client.post(f"/api/v1/accounts/{ACCOUNT}/events", json=contact_centre("b"))
    assert stored.json()["accepted"] == 14, stored.text
    return server


def url(method: str) -> str:
    return f"/operations/api/account/{ACCOUNT}/{method}"


def answer(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refusal(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] == "invalid_request"
    assert body["field"] == field, body
    return body


@pytest.mark.parametrize("method", sorted(QUESTIONS))
def test_a_form_body_asks_what_the_query_string_asks(busy: Server, method: str) -> None:
    params = QUESTIONS[method]
    with busy.client() as client:
        expected = answer(client.get(url(method), params=params))
        assert expected  # the events are in the answer: not an empty object
        assert answer(client.post(url(method), data=params)) == expected
        charset = {"Content-Type": f"{FORM}; charset=UTF-8"}
        assert answer(client.post(url(method), data=params, headers=charset)) == expected
        assert answer(client.post(url(method), json=params)) == expected
        # Some in the query string, the rest in the form.
        first, *rest = params.items()
        split = client.post(url(method), params=dict([first]), data=dict(rest))
        assert answer(split) == expected
        # Content-Type json on a GET, as the published samples send it.
        json_get = client.get(
            url(method), params=params, headers={"Content-Type": "application/json"}
        )
        assert answer(json_get) == expected


def test_null_is_the_same_as_absent(busy: Server) -> None:
    with busy.client() as client:
        plain = answer(client.get(url("engactivity"), params={"timeframe": 60, "v": 1}))
        nulls = {"timeframe": 60, "v": 1, "skillIds": None, "agentIds": None, "interval": None}
        assert answer(client.post(url("engactivity"), json=nulls)) == plain
        # A null in the body leaves the query string's value in force.
        overridden = client.post(
            url("engactivity") + "?timeframe=60", json={"timeframe": None, "v": 1}
        )
        assert answer(overridden) == plain
        # A required parameter given as null is missing.
        body = refusal(
            client.post(url("engactivity"), json={"timeframe": None, "v": 1}), "timeframe"
        )
        assert body["message"] == "timeframe is required"
        missing = client.post(
            url("agentactivity"), json={"timeframe": 60, "v": 1, "agentIds": None}
        )
        refusal(missing, "agentIds")
        sla = {"timeframe": 60, "v": 1, "histogram": None, "skillIds": None, "groupIds": None}
        assert answer(client.post(url("sla"), json=sla)) == answer(
            client.get(url("sla"), params={"timeframe": 60, "v": 1})
        )


def test_json_declared_as_a_form_is_json(busy: Server) -> None:
    """``curl -d '{...}'`` declares a form: the body says what it is."""
    with busy.client() as client:
        plain = answer(client.get(url("queuehealth"), params={"timeframe": 60, "v": 1}))
        curl_like = client.post(
            url("queuehealth"), content=b'{"timeframe": 60, "v": 1}', headers={"Content-Type": FORM}
        )
        assert answer(curl_like) == plain


def test_bodies_that_are_neither_json_nor_a_form_are_refused(busy: Server) -> None:
    with busy.client() as client:
        as_json = {"Content-Type": "application/json"}
        body = refusal(
            client.post(url("sla"), content=b"timeframe=60&v=1", headers=as_json), "body"
        )
        assert FORM in body["allowed"] and "JSON object" in body["allowed"]
        refusal(client.post(url("sla"), content=b"[1, 2]", headers=as_json), "body")
        as_form = {"Content-Type": FORM}
        not_utf8 = client.post(
            url("sla"), content=b"timeframe=60&v=1&skillIds=\xff", headers=as_form
        )
        assert refusal(not_utf8, "body")["message"] == "the form body is not UTF-8"
        many = "&".join(f"f{i}=1" for i in range(1001)).encode()
        assert (
            "1000 fields"
            in refusal(client.post(url("sla"), content=many, headers=as_form), "body")["message"]
        )
        # A form's values are checked as the query string's are.
        wrong = client.post(url("sla"), data={"timeframe": "soon", "v": "1"})
        assert "timeframe" in refusal(wrong, "timeframe")["message"]
        empty = client.post(url("sla"), content=b"", headers=as_form)
        refusal(empty, "v")


def test_ingestion_reads_null_as_absent_too(busy: Server) -> None:
    """The events of ``busy`` carry nulls for optional fields (accepted); a required
    field sent as null is missing, and the batch is refused naming it."""
    event = {"eventId": "n-1", "type": "closed", "time": NOW_MS - MIN, "skillId": None}
    with busy.client() as client:
        refused = client.post(
            f"/api/v1/accounts/{ACCOUNT}/events", json=[{**event, "interactive": None}]
        )
        body = refusal(refused, "interactive")
        assert body["message"] == "interactive is required for a closed event"
        stored = client.post(
            f"/api/v1/accounts/{ACCOUNT}/events", json=[{**event, "interactive": True}]
        )
        assert stored.json() == {"accepted": 1, "duplicates": 0, "expired": 0}


def test_a_large_body_declared_as_a_form_is_not_taken_for_a_signed_form(busy: Server) -> None:
    """``curl -d @batch.json`` declares a form. Without credentials (loopback, no key
    yet) a batch past the 256 KiB a signed form may hold still goes through whole."""
    events = [
        {"eventId": f"big-{i}", "type": "queued", "time": NOW_MS - MIN, "skillId": 9}
        for i in range(5000)
    ]
    body = json.dumps(events).encode()
    assert len(body) > 256 * 1024
    with busy.client() as client:
        stored = client.post(
            f"/api/v1/accounts/{ACCOUNT}/events", content=body, headers={"Content-Type": FORM}
        )
    assert stored.json() == {"accepted": 5000, "duplicates": 0, "expired": 0}, stored.text
