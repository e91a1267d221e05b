"""The service owns start-up: what it refuses before opening anything, and what the app
it builds leaves to it. Serving itself is tested through real processes (tests/api/)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from engactivity.api.access.install import install_auth
from engactivity.api.access.table import RouteTable
from engactivity.api.app import create_app
from engactivity.auth.keystore import KeyStore
from engactivity.clock import fixed_clock
from engactivity.methods import tables_of
from engactivity.service import Service, ServiceError
from engactivity.settings import Settings
from engactivity.store import open_database, open_store
from tests.conftest import NOW_MS


def test_workers_need_a_postgresql_store(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    service = Service(Settings(store=f"sqlite:///{db}", workers=2), fixed_clock(NOW_MS))
    with pytest.raises(ServiceError, match="--workers above 1 needs a PostgreSQL store"):
        service.run()
    assert not db.exists()  # refused before anything was opened


def test_a_store_that_cannot_be_opened_is_a_service_error() -> None:
    service = Service(Settings(store="mysql://db/x"), fixed_clock(NOW_MS))
    with pytest.raises(ServiceError, match="unsupported store URL 'mysql://db/x'"):
        service.run()


def test_the_app_neither_opens_nor_closes_the_stores(tmp_path: Path) -> None:
    """The service opens them before building the app and closes them after serving."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    clock = fixed_clock(NOW_MS)
    db = open_database(url)
    store = open_store(url, clock, tables_of(), database=db)
    keys = KeyStore(db)
    try:
        app = create_app(Settings(store=url), clock, store, keys)
        assert asyncio.run(_ready_through_a_start_and_stop(app)) == 200
        store.ping()  # still open
        assert keys.any_key() is False
    finally:
        store.close()
        db.close()
    assert not (tmp_path / "store.db-wal").exists()


async def _ready_through_a_start_and_stop(app: FastAPI) -> int:
    """The app's start-up and shutdown (its lifespan) around one GET /readyz."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/readyz")).status_code


def test_install_auth_needs_the_key_store_when_authentication_is_on() -> None:
    table = RouteTable([])
    with pytest.raises(ValueError, match="needs the key store"):
        install_auth(FastAPI(), Settings(), None, table)
    install_auth(FastAPI(), Settings(insecure_no_auth=True), None, table)  # off: none needed


def test_starting_imports_no_prometheus_client_before_the_workers_set_its_folder() -> None:
    """prometheus_client picks its mode at import; with --workers, workers.py sets
    PROMETHEUS_MULTIPROC_DIR first, so the command and the service must not import it."""
    code = (
        "import sys, engactivity.cli, engactivity.service, engactivity.workers\n"
        "assert 'prometheus_client' not in sys.modules, 'imported too early'\n"
        "assert 'engactivity.api' not in sys.modules, 'imported too early'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
