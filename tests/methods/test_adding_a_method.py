"""Adding a method is one module and its registration: shown with a toy method.

The toy below is declared the way a new module under methods/ would be (closed chats
per skill, per 5-minute bucket), and registered by passing it with the real methods.
Nothing else is written for it: the store creates, fills, loads and catches up its
table, and the app makes its routes, access, cache and OpenAPI entries, on both
databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from engactivity.api.app import create_app
from engactivity.auth.keystore import KeyStore
from engactivity.core.events import Closed, Event
from engactivity.core.params import ParamReader
from engactivity.core.timeframe import BUCKET_MS, Span, span_for
from engactivity.methods import METHODS, tables_of
from engactivity.methods.method import Fragments, Method, query_parameter
from engactivity.settings import Settings
from engactivity.store import open_database, open_store
from engactivity.store.memory import AccountState
from engactivity.store.tables import BucketTable, Column, Deltas, Value
from tests.conftest import ENGINES, MIN, NOW_MS, new_pg_database

# -- the toy method: what a new module would hold ------------------------------------------


@dataclass(frozen=True)
class ChatsQuery:
    timeframe: int


def parse(params: Mapping[str, object]) -> ChatsQuery:
    read = ParamReader(params)
    read.version()
    timeframe = read.timeframe()
    read.finish()
    assert timeframe is not None
    return ChatsQuery(timeframe)


def fold(events: Sequence[Event], into: Deltas) -> None:
    for event in events:
        if isinstance(event, Closed):
            skill = -1 if event.skill_id is None else event.skill_id
            row = into.setdefault((event.time // BUCKET_MS, skill), [0])
            row[0] += 1


CHATS = BucketTable("toy_chats", keys=(Column("skill_id"),), values=(Value("chats"),), fold=fold)


def read(query: ChatsQuery, span: Span, state: AccountState, fragments: Fragments) -> int:
    totals = state.rows(CHATS).totals
    return sum(totals[b][0] for b in range(span.first, span.last + 1) if b in totals)


def render(query: ChatsQuery, span: Span, chats: int, fragments: Fragments) -> bytes:
    return orjson.dumps({"closedChats": chats})


TOY: Method[ChatsQuery, Span, int] = Method(
    name="toychats",
    summary="Closed chats",
    parse=parse,
    plan=lambda query, now: span_for(now, query.timeframe),
    tables=(CHATS,),
    read=read,
    render=render,
    light=lambda query: True,
    parameters=[query_parameter("timeframe", "Required: minutes.")],
    body={"type": "object"},
    response={"type": "object", "properties": {"closedChats": {"type": "integer"}}},
)

# -- registering it, and using it ------------------------------------------------------------

REGISTERED = (*METHODS, TOY)


def closed(n: int) -> dict[str, object]:
    return {
        "eventId": f"x{n}",
        "type": "closed",
        "time": NOW_MS - MIN,
        "skillId": n % 3,
        "interactive": True,
    }


async def exchange(app: Any, calls: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return [await client.request(verb, path, json=body) for verb, path, body in calls]


def serve_once(url: str, calls: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """The app with the toy method registered, over a store of ``url``, in process."""
    db = open_database(url)
    store = open_store(url, lambda: NOW_MS, tables_of(REGISTERED), database=db)
    try:
        app = create_app(
            Settings(store=url), lambda: NOW_MS, store, KeyStore(db), methods=REGISTERED
        )
        return asyncio.run(exchange(app, calls))
    finally:
        store.close()
        db.close()


@pytest.fixture(params=ENGINES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return new_pg_database()


def test_a_declared_method_is_served_stored_and_described(url: str) -> None:
    query = "/operations/api/account/acme/toychats?timeframe=60&v=1"
    sent, counted, wrong, engactivity, described = serve_once(
        url,
        [
            ("POST", "/api/v1/accounts/acme/events", [closed(n) for n in range(7)]),
            ("GET", query, None),
            ("GET", "/operations/api/account/acme/toychats?v=1", None),
            ("GET", "/operations/api/account/acme/engactivity?timeframe=60&v=1", None),
            ("GET", "/openapi.json", None),
        ],
    )
    assert sent.status_code == 200 and sent.json()["accepted"] == 7
    assert counted.json() == {"closedChats": 7}
    assert wrong.status_code == 400 and wrong.json()["field"] == "timeframe"
    assert engactivity.json()["metricsTotals"]["totalInteractiveChats"] == 7
    operation = described.json()["paths"]["/operations/api/account/{accountId}/toychats"]
    assert set(operation) == {"get", "post"}
    assert operation["get"]["security"]  # a read key of the account
    # A new process (or a restart) finds the table on disk and loads it.
    (again,) = serve_once(url, [("POST", query.split("?")[0], {"timeframe": 60, "v": 1})])
    assert again.json() == {"closedChats": 7}
