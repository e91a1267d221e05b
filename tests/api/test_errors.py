"""One way to build an error answer: ``api/errors.error_response``, used by the routes,
the exception handlers and the middlewares alike."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import orjson

from engactivity.api.access.refusals import CHALLENGE, forbidden, unauthorized
from engactivity.api.errors import error_response
from tests.auth.apphelp import call, in_process

SRC = Path(__file__).resolve().parents[2] / "src" / "engactivity"
QUERY = "/operations/api/account/acme/engactivity?timeframe=60&v=1"


def test_error_response_has_the_one_shape() -> None:
    answer = error_response(429, "too_many_requests", "slow", headers={"Retry-After": "1"}, n=3)
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["content-length"] == str(len(answer.body))
    assert orjson.loads(answer.body) == {"error": "too_many_requests", "message": "slow", "n": 3}


def _assert_error(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-length"] == str(len(answer.content))
    body = answer.json()
    assert body["error"] == code and isinstance(body["message"], str)


def test_every_layer_answers_errors_the_same_way(tmp_path: Path) -> None:
    with in_process(tmp_path) as made:
        app, reader = made.app, made.bearer("acme", "read")
        other = made.bearer("other")

        anonymous = call(app, "GET", QUERY)
        _assert_error(anonymous, 401, "unauthorized")
        assert anonymous.content == unauthorized("credentials are required").body
        assert anonymous.headers["www-authenticate"] == CHALLENGE
        bad_key = call(app, "GET", QUERY, {"Authorization": "Bearer nope"})
        assert bad_key.content == unauthorized("the credentials are not valid").body
        assert bad_key.headers["www-authenticate"] == CHALLENGE
        wrong_account = call(app, "GET", QUERY, other)
        _assert_error(wrong_account, 403, "forbidden")
        assert wrong_account.content == forbidden("acme", "read").body

        form = {"Authorization": 'OAuth oauth_consumer_key="x"'}
        form["Content-Type"] = "application/x-www-form-urlencoded"
        _assert_error(call(app, "POST", QUERY, form, b"a" * 300_000), 413, "payload_too_large")
        huge = {"X-Big": "a" * 40_000}
        _assert_error(call(app, "GET", "/healthz", huge), 431, "headers_too_large")

        _assert_error(call(app, "GET", "/nothing", reader), 404, "not_found")
        _assert_error(call(app, "DELETE", QUERY, reader), 405, "method_not_allowed")
        _assert_error(call(app, "GET", QUERY + "0", reader), 400, "invalid_request")


def _builds_an_answer_by_hand(node: ast.AST) -> bool:
    """A dict literal that is an error body or the start of an HTTP answer."""
    if not isinstance(node, ast.Dict):
        return False
    for key, value in zip(node.keys, node.values, strict=True):
        if not isinstance(key, ast.Constant):
            continue
        if key.value == "error" and not isinstance(value, ast.Dict):  # (schemas nest dicts)
            return True
        if key.value == "type" and getattr(value, "value", None) == "http.response.start":
            return True
    return False


def test_no_other_module_builds_an_error_answer() -> None:
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "api" / "errors.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if _builds_an_answer_by_hand(node)
    ]
    assert found == []
