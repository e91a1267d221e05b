"""After a scenario: every method's answers against the oracles, over what was acknowledged.

Every question (bench/multihost/questions.py) is sent through the balancer (twice:
round robin reaches both hosts) and to each live host directly, signed with OAuth 1.0a
(so both hosts check one key, sealed with the shared master key), and compared with
its oracle over every event of every acknowledged batch; the database's stored event
ids are counted too. The hosts' clock is frozen for the checks (bench/multihost/
clock.py), so every answer and its oracle are computed at the very same instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from oauthlib import oauth1

from bench.multihost.postgres import DATABASE, Node
from bench.multihost.questions import QUESTIONS, Question
from bench.multihost.traffic import Event


def signed(
    client: httpx.Client, url: str, key: dict[str, Any], body: dict[str, Any] | None
) -> httpx.Response:
    """``url`` asked as LivePerson's clients ask: OAuth 1.0a, HMAC-SHA1, in a header (a
    JSON body is not part of the signature)."""
    signer = oauth1.Client(
        key["appKey"],
        client_secret=key["secret"],
        resource_owner_key=key["accessToken"],
        resource_owner_secret=key["accessTokenSecret"],
    )
    if body is None:
        signed_url, headers, _ = signer.sign(url, "GET")
        return client.get(signed_url, headers=headers)
    signed_url, headers, _ = signer.sign(url, "POST")
    headers = {**headers, "Content-Type": "application/json"}
    return client.post(signed_url, headers=headers, content=orjson.dumps(body))


def asked(
    client: httpx.Client, base: str, account: str, key: dict[str, Any], question: Question
) -> list[tuple[str, httpx.Response]]:
    """The question's answers from ``base``: GET, and POST when it has a POST form."""
    url = f"{base}/operations/api/account/{account}/{question.method}"
    query = str(httpx.QueryParams({**question.params, "v": 1}))
    answers = [("GET", signed(client, f"{url}?{query}", key, None))]
    if question.post is not None:
        answers.append(("POST", signed(client, f"{url}?v=1", key, question.post)))
    return answers


def _problem(where: str, response: httpx.Response, expected: Any, question: Question) -> str | None:
    if response.status_code != 200:
        return f"{where}: HTTP {response.status_code} {response.text[:200]}"
    try:
        question.same(response.json(), expected)
    except AssertionError as differs:
        return f"{where}: {str(differs)[:300]}"
    return None


def check_answers(
    urls: list[str],
    keys: dict[str, dict[str, Any]],
    acknowledged: dict[str, list[Event]],
    now_ms: int,
) -> tuple[list[str], int]:
    """What differs from the oracles at ``now_ms`` (the hosts' frozen clock), and how
    many answers were compared."""
    problems: list[str] = []
    compared = 0
    with httpx.Client(timeout=60, trust_env=False) as client:
        for account, events in acknowledged.items():
            for question in QUESTIONS:
                expected = question.expected(events, now_ms, dict(question.params))
                for url in urls:
                    for verb, response in asked(client, url, account, keys[account], question):
                        where = f"{verb} {url} {account} {question.method} {question.params}"
                        compared += 1
                        if problem := _problem(where, response, expected, question):
                            problems.append(problem)
    return problems, compared


def stored_ids(primary: Node, accounts: list[str]) -> dict[str, int]:
    """Event ids the database holds, per account (each counted event holds one)."""
    names = ",".join(f"'{account}'" for account in accounts)
    rows = primary.psql(
        f"SELECT account_id, count(*) FROM seen_event WHERE account_id IN ({names}) "
        "GROUP BY account_id",
        DATABASE,
    )
    counts = {account: 0 for account in accounts}
    for line in rows.splitlines():
        account, count = line.split("|")
        counts[account] = int(count)
    return counts


def distinct(events: Sequence[Event]) -> int:
    return len({event["eventId"] for event in events})
