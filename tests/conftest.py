"""Shared fixtures: a real ``engactivity serve`` process on a free port, over real HTTP.

The server's clock is pinned through ENGACTIVITY_FAKE_NOW_FILE, so tests decide what
"now" is and can move it without restarting the server.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.balanced import (
    BALANCED,
    MEMORY_MB,
    Nginx,
    share_master_key,
    skip_single_process,
    tally,
)
from tests.ports import free_port, listens, log_size, port_was_taken

# 2026-11-24 13:29:00 UTC: the reference's "now 13:29" example, on a fixed day.
NOW_MS = 1795526940000
MIN = 60_000


# The PostgreSQL engine's tests create one database per server through this URL (started
# by scripts/start-test-postgres); without it they are skipped, except in CI.
PG_URL = os.environ.get(
    "ENGACTIVITY_TEST_PG_URL",
    "postgresql://engactivity:engactivity@127.0.0.1:5432/engactivity_test",
)
ENGINES = ["postgresql"] if BALANCED else ["sqlite", "postgresql"]
"""Store engines of the parametrized suites; postgresql runs ``serve --workers 2``. The
balanced topology (tests/balanced.py) is PostgreSQL only: it shares one database."""
PG_WORKERS = 2
_pg_databases: list[str] = []


def new_pg_database() -> str:
    """The URL of a new, empty database of the test server (dropped at the end)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        message = f"no PostgreSQL at {PG_URL} ({exc}); run scripts/start-test-postgres"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    _pg_databases.append(name)
    return urlsplit(PG_URL)._replace(path=f"/{name}").geturl()


def pytest_configure() -> None:
    if BALANCED:
        share_master_key()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if BALANCED:
        skip_single_process(items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _pg_databases:
        return
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for name in _pg_databases:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def store_rows(store_url: str, table: str, account: str) -> int:
    """Rows of ``table`` for ``account`` in a store of either engine."""
    sql = f"SELECT COUNT(*) FROM {table} WHERE account_id = ?"
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url) as conn:
            row = conn.execute(sql.replace("?", "%s"), (account,)).fetchone()
    else:
        import sqlite3

        conn2 = sqlite3.connect(store_url.removeprefix("sqlite:///"), timeout=30)
        try:
            row = conn2.execute(sql, (account,)).fetchone()
        finally:
            conn2.close()
    assert row is not None
    return int(row[0])


_PORT_TRIES = 5


class Server:
    """One ``engactivity serve`` process; restartable on the same store and port.

    In the balanced topology (tests/balanced.py) it is two processes on one PostgreSQL
    database behind nginx, ``port`` and ``base_url`` nginx's, ``backends`` the two;
    ``proc`` stays None."""

    def __init__(
        self,
        tmp: Path,
        now_ms: int = NOW_MS,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        engine: str = "sqlite",
        workers: int = PG_WORKERS,
        balanced: bool = BALANCED,
    ) -> None:
        self.tmp = tmp
        self.db = tmp / "store.db"
        self.engine = "postgresql" if balanced else engine
        sqlite = self.engine == "sqlite"
        self.store_url = f"sqlite:///{self.db}" if sqlite else new_pg_database()
        self.clock_file = tmp / "now_ms"
        self.set_now(now_ms)
        self.extra_args = extra_args or []
        self.balanced = balanced
        self.backends: list[Server] = []
        self.nginx: Nginx | None = None
        if engine == "postgresql" and not balanced:
            self.extra_args += ["--workers", str(workers)]
        self.extra_env = env or {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.verify: ssl.SSLContext | bool = True
        """How the readiness probe checks the certificate (a TLS server's tests set it)."""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = tmp / "server.log"

    def set_now(self, now_ms: int) -> None:
        self.now_ms = now_ms
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(str(now_ms))
        tmp.replace(self.clock_file)

    def start(self) -> Server:
        if self.balanced:
            return self._start_balanced()
        for _ in range(_PORT_TRIES):
            if self._start_on_port():
                return self
            self._move_to(free_port())  # another test's server bound it first
        raise RuntimeError(f"no free port in {_PORT_TRIES} tries:\n{self.log_path.read_text()}")

    def _move_to(self, port: int) -> None:
        old, self.port = self.port, port
        self.base_url = self.base_url.replace(f":{old}", f":{port}")

    def _start_on_port(self) -> bool:
        """Start the process on ``self.port``; False when the port was taken."""
        env = {**os.environ, "ENGACTIVITY_FAKE_NOW_FILE": str(self.clock_file), **self.extra_env}
        cmd = [
            sys.executable,
            "-m",
            "engactivity",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--store",
            self.store_url,
            *self.extra_args,
        ]
        logged = log_size(self.log_path)
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if port_was_taken(self.log_path, logged):
                    self.proc = None
                    return False
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                ready = httpx.get(f"{self.base_url}/readyz", timeout=1, verify=self.verify)
                # Ready only when the answer is ours: another server may hold the port.
                if ready.status_code == 200 and listens(self.proc.pid, self.port):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()  # not left running behind a failed test
        raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()}")

    def _start_balanced(self) -> Server:
        """Both processes read this server's store, clock, flags and environment (the
        test's own win over ours), each as one worker."""
        if not self.backends:
            for name in ("backend-a", "backend-b"):
                (self.tmp / name).mkdir(exist_ok=True)
                backend = Server(self.tmp / name, self.now_ms, balanced=False)
                backend.engine, backend.store_url = self.engine, self.store_url
                backend.clock_file = self.clock_file
                self.backends.append(backend)
        for _ in range(_PORT_TRIES):
            for backend in self.backends:
                backend.extra_args = ["--memory-mb", MEMORY_MB, *self.extra_args]
                # Discovery advertises the balancer, as docs/deploy.md says to set up.
                public = {"ENGACTIVITY_PUBLIC_HOST": f"127.0.0.1:{self.port}"}
                backend.extra_env = {**public, **self.extra_env}
                backend.start()
            ports = [backend.port for backend in self.backends]
            self.nginx = Nginx(self.tmp / "nginx", self.port, ports)
            if self.nginx.start():
                return self
            for backend in self.backends:  # they advertise the balancer's port
                backend.stop()
            self._move_to(free_port())
        raise RuntimeError(f"nginx found no free port in {_PORT_TRIES} tries")

    def stop(self) -> None:
        if self.nginx:
            self.nginx.stop()
            tally([backend.port for backend in self.backends if backend.proc])
        for backend in self.backends:
            backend.stop()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up."""
        if self.nginx:
            self.nginx.stop()
        for backend in self.backends:
            backend.kill()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def wait_demo_backfilled(self, timeout_s: float = 180) -> None:
        """Until ``serve --demo`` logs that its day of history is in (about 3 s on an idle
        machine, many times that beside a full parallel suite); the limit only stops a
        hung demo, it is no speed check (``make bench`` measures speed)."""
        deadline = time.monotonic() + timeout_s
        while "events of history for account" not in self.log_path.read_text():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()}")
            assert time.monotonic() < deadline, "the demo backfill did not finish"
            time.sleep(0.1)

    # -- client helpers ----------------------------------------------------------

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def query(self, account: str, **params: object) -> httpx.Response:
        params.setdefault("v", 1)
        return httpx.get(
            f"{self.base_url}/operations/api/account/{account}/engactivity",
            params={k: str(v) for k, v in params.items()},
            timeout=30,
        )

    def send(self, account: str, events: list[dict[str, object]]) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/api/v1/accounts/{account}/events", json=events, timeout=30
        )


@pytest.fixture(scope="module")
def store_engine() -> str:
    """The engine of ``server`` and ``make_server``; a module runs both by overriding this
    with ``@pytest.fixture(scope="module", params=ENGINES)``."""
    return "sqlite"


@pytest.fixture(scope="module")
def pg_workers() -> int:
    """``serve --workers`` of the PostgreSQL servers of ``server`` and ``make_server``; a
    module whose tests need no second process may lower it (each starts faster)."""
    return PG_WORKERS


@pytest.fixture
def server(tmp_path: Path, store_engine: str, pg_workers: int) -> Iterator[Server]:
    srv = Server(tmp_path, engine=store_engine, workers=pg_workers).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path: Path, store_engine: str, pg_workers: int) -> Iterator[object]:
    """Factory for servers with extra flags or environment; all stopped at the end."""
    made: list[Server] = []

    def make(
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        now_ms: int = NOW_MS,
        name: str = "srv",
    ) -> Server:
        folder = tmp_path / f"{name}{len(made)}"
        folder.mkdir()
        srv = Server(folder, now_ms, extra_args, env, engine=store_engine, workers=pg_workers)
        made.append(srv)
        return srv.start()

    yield make
    for srv in made:
        srv.stop()
