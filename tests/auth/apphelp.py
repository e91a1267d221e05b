"""The real app in process (``create_app`` over a SQLite store and its key store), for
tests that look inside it; the end-to-end tests run ``engactivity serve`` instead."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp

from engactivity.accountconfig.store import ConfigStore
from engactivity.api.app import create_app
from engactivity.auth.keys import new_bearer
from engactivity.auth.keystore import KeyStore
from engactivity.auth.login import LoginService, open_login_stores
from engactivity.methods import tables_of
from engactivity.settings import Settings
from engactivity.store import open_database, open_store
from tests.conftest import NOW_MS


def add_bearer(keys: KeyStore, account: str, scopes: str = "read,write") -> dict[str, str]:
    """A new bearer key of ``account``, as the header that carries it."""
    made = new_bearer(account, frozenset(scopes.split(",")), NOW_MS, None)
    keys.add(made.record)
    return {"Authorization": f"Bearer {made.credentials['token']}"}


@dataclass
class InProcess:
    app: FastAPI
    keys: KeyStore

    def bearer(self, account: str, scopes: str = "read,write") -> dict[str, str]:
        return add_bearer(self.keys, account, scopes)


@contextmanager
def in_process(
    folder: Path, *, auth: bool = True, first_key: str | None = "acme"
) -> Iterator[InProcess]:
    """The app; with ``first_key``, a key exists before it starts (no localhost exception)."""
    url = f"sqlite:///{folder}/store.db"
    database = open_database(url, "NORMAL")
    store = open_store(url, lambda: NOW_MS, tables_of(), database=database)
    keys = KeyStore(database)
    logins = LoginService(open_login_stores(database, url, 60_000), lambda: NOW_MS)
    if first_key is not None:
        add_bearer(keys, first_key)
    settings = Settings(store=url, master_key_file=str(folder / "m.key"), insecure_no_auth=not auth)
    try:
        app = create_app(
            settings,
            lambda: NOW_MS,
            store,
            keys if auth else None,
            configs=ConfigStore(database),
            logins=logins,
        )
        yield InProcess(app, keys)
    finally:
        logins.close()
        store.close()
        database.close()


def call(
    app: ASGIApp,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    content: bytes | str | None = None,
) -> httpx.Response:
    """One request to ``app`` in process, over ASGI (no lifespan, no socket)."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, url, headers=headers, content=content)

    return asyncio.run(send())
