"""Per-request cost of the authentication middleware, the app behind it excluded.

The app is built by ``create_app`` over a SQLite store holding one bearer key; the
AuthMiddleware it registered is made again around a no-op app and called directly,
in a loop, on one event loop. Prints the median (of 7 batches) microseconds per call.

Run: ``python -m bench.auth_middleware [--rounds N]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from typing import Any

from engactivity.api.access.middleware import AuthMiddleware
from engactivity.api.app import create_app
from engactivity.auth.keys import new_bearer
from engactivity.auth.keystore import KeyStore
from engactivity.methods import tables_of
from engactivity.settings import Settings
from engactivity.store import open_database, open_store

DISTINCT = 20_000
"""Accounts cycled through to defeat any cache of the route lookup."""


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    return None


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def _scope(path: str, token: str | None = None) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8080")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"timeframe=60&v=1",
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
    }


async def _time(middleware: Any, scopes: list[dict[str, Any]], rounds: int) -> float:
    batches = []
    cycle = itertools.cycle(scopes)
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(rounds):
            await middleware(dict(next(cycle)), _receive, _send)
        batches.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(batches)


def _cases(token: str) -> list[tuple[str, list[dict[str, Any]]]]:
    discovery = "/api/account/{}/service/leDataReporting/baseURI.json"
    return [
        ("open route (GET /healthz)", [_scope("/healthz")]),
        ("open route, one account (discovery)", [_scope(discovery.format("acme"))]),
        (
            f"open route, {DISTINCT} accounts in turn (discovery)",
            [_scope(discovery.format(f"a{n}")) for n in range(DISTINCT)],
        ),
        ("metrics, loopback (GET /metrics)", [_scope("/metrics")]),
        ("no route, no key: 401 (GET /nothing)", [_scope("/nothing")]),
        (
            "account route, bearer key (GET engactivity)",
            [_scope("/operations/api/account/acme/engactivity", token)],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        database = open_database(url, "NORMAL")
        store = open_store(url, lambda: 0, tables_of(), database=database)
        keys = KeyStore(database)
        made = new_bearer("acme", frozenset({"read", "write"}), 0, None)
        keys.add(made.record)
        settings = Settings(store=url, master_key_file=f"{folder}/m.key")
        app = create_app(settings, lambda: 0, store, keys)
        entry = next(m for m in app.user_middleware if m.cls is AuthMiddleware)
        middleware = AuthMiddleware(_noop, *entry.args, **entry.kwargs)
        loop = asyncio.new_event_loop()
        for name, scopes in _cases(str(made.credentials["token"])):
            cost = loop.run_until_complete(_time(middleware, scopes, args.rounds))
            print(f"{name:48s} {cost:8.2f} µs")
        loop.close()
        store.close()
        database.close()


if __name__ == "__main__":
    main()
