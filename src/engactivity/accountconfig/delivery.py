"""Where a configuration document goes from the command line: a server's write endpoint
over HTTP, or straight into a store, with the same validation either way."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from engactivity.accountconfig.document import parse_document
from engactivity.accountconfig.store import Applied, open_config_store
from engactivity.core.problems import InvalidRequest, Problem
from engactivity.store import StoreUnavailable


class DeliveryError(Exception):
    """The document could not be delivered at all (unreachable, refused, store down)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The server's answer, when it answered."""


def post_document(
    url: str, account: str, body: bytes, token: str | None, timeout_s: float = 60.0
) -> Applied:
    """POST ``body`` to the server at ``url``; InvalidRequest with the server's problems
    when it refuses the document."""
    path = f"{url.rstrip('/')}/api/v1/accounts/{quote(account, safe='')}/configuration"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.post(path, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"cannot reach {url}: {exc}") from exc
    if response.status_code == 200:
        answer = response.json()
        return Applied(int(answer["revision"]), int(answer["changed"]), int(answer["unchanged"]))
    if response.status_code == 400:
        raise InvalidRequest(_problems(response))
    status = response.status_code
    raise DeliveryError(f"{url} answered {status}: {response.text[:300]}", status)


def store_document(store_url: str, account: str, body: bytes, now_ms: int) -> Applied:
    """Write ``body`` into the store ``store_url`` names."""
    document = parse_document(body)
    try:
        configs = open_config_store(store_url)
    except StoreUnavailable as exc:
        raise DeliveryError(str(exc)) from exc
    try:
        return configs.apply(account, document, now_ms)
    except StoreUnavailable as exc:
        raise DeliveryError(str(exc)) from exc
    finally:
        configs.close()


def _problems(response: httpx.Response) -> list[Problem]:
    try:
        body = response.json()
    except ValueError:
        body = None
    items = body.get("problems") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return [Problem("body", response.text[:300], "see docs/ingestion.md")]
    return [
        Problem(str(p.get("field", "body")), str(p.get("message", "")), str(p.get("allowed", "")))
        for p in items
        if isinstance(p, dict)
    ]
