"""After a scenario: the service's answers against an oracle over what was acknowledged.

Every query is sent through the balancer (twice: round robin reaches both hosts) and to
each live host directly, signed with OAuth 1.0a (so both hosts check one key, sealed
with the shared master key), and compared with tests/oracle.py over every event of
every acknowledged batch; the database's stored event ids are counted too. The
service reads the real clock, so an answer is compared with the oracle at the times
just before and just after it (they differ only if a five-minute bucket began between).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
from oauthlib import oauth1
from tests import oracle

from bench.multihost.postgres import DATABASE, Node
from bench.multihost.producers import Event

QUERIES: list[dict[str, Any]] = [
    {"timeframe": 1440},
    {"timeframe": 1440, "skillIds": "all", "agentIds": "all"},
    {"timeframe": 60, "interval": 15, "skillIds": "all"},
]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_answers: dict[tuple[str, int, str, int], dict[str, Any]] = {}


def _expected(
    account: str, events: Sequence[Event], now_ms: int, params: dict[str, Any]
) -> dict[str, Any]:
    """The oracle's body, computed once per account, number of events, query and
    five-minute bucket of ``now_ms`` (every timeframe checked is a multiple of five
    minutes, so the body depends on nothing finer)."""
    key = (account, len(events), repr(params), now_ms // oracle.B_MS)
    if key not in _answers:
        _answers[key] = oracle.expected_body(events, now_ms, params)
    return _answers[key]


def _signed_get(client: httpx.Client, url: str, key: dict[str, Any]) -> httpx.Response:
    """GET ``url`` signed as LivePerson's clients sign: OAuth 1.0a, HMAC-SHA1, header."""
    signer = oauth1.Client(
        key["appKey"],
        client_secret=key["secret"],
        resource_owner_key=key["accessToken"],
        resource_owner_secret=key["accessTokenSecret"],
    )
    signed_url, headers, _ = signer.sign(url, "GET")
    return client.get(signed_url, headers=headers)


def compare(
    client: httpx.Client,
    url: str,
    account: str,
    key: dict[str, Any],
    events: Sequence[Event],
    params: dict[str, Any],
) -> str | None:
    """None when ``url`` answers the query exactly, else what is wrong."""
    query = str(httpx.QueryParams({**params, "v": 1}))
    before = _now_ms()
    response = _signed_get(
        client, f"{url}/operations/api/account/{account}/engactivity?{query}", key
    )
    after = _now_ms()
    if response.status_code != 200:
        return f"{url} {account} {params}: HTTP {response.status_code} {response.text[:200]}"
    body = response.json()
    for at in (before, after):
        expected = _expected(account, events, at, params)
        if oracle.canonical(body) == oracle.canonical(expected):
            return None
    differ = [key for key in expected if body.get(key) != expected[key]] or "key order"
    return f"{url} {account} {params}: differs from the oracle in {differ}"


def check_answers(
    urls: list[str], keys: dict[str, dict[str, Any]], acknowledged: dict[str, list[Event]]
) -> list[str]:
    problems: list[str] = []
    with httpx.Client(timeout=30, trust_env=False) as client:
        for account, events in acknowledged.items():
            for url in urls:
                for params in QUERIES:
                    problem = compare(client, url, account, keys[account], events, params)
                    if problem:
                        problems.append(problem)
    return problems


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
