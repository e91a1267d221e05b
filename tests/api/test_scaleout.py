"""Several server processes on one PostgreSQL database, over real HTTP.

Separate ``serve`` processes (each with its own memory copy of the rollups) share one
database: what one acknowledges, the others answer at once and exactly, under
concurrent overlapping deliveries, a process killed with SIGKILL, and the database
restarted under them.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from tests import oracle
from tests.api.test_engactivity import day_of_events
from tests.api.test_ingest import ack, closed, connected, ndjson, total_of, totals
from tests.auth.keyhelp import bearer, create_key, oauth1, revoke_key
from tests.conftest import NOW_MS, Server, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
NDJSON = {"Content-Type": "application/x-ndjson"}


def pg_server(tmp: Path, store_url: str | None = None, workers: int = 1) -> Server:
    """A server on the PostgreSQL store ``store_url`` (a new database when None)."""
    srv = Server(tmp, engine="postgresql")
    srv.extra_args = ["--workers", str(workers)] if workers > 1 else []
    if store_url is not None:
        srv.store_url = store_url
    return srv


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = pg_server(tmp_path / "a").start()
    second = pg_server(tmp_path / "b", first.store_url).start()
    yield first, second
    first.stop()
    second.stop()


def test_ingest_through_one_query_through_the_other(pair: tuple[Server, Server]) -> None:
    one, other = pair
    events = day_of_events(NOW_MS, 4, 800, "x")
    checks: list[dict[str, object]] = [
        {"timeframe": 1440},
        {"timeframe": 60, "interval": 15, "skillIds": "all"},
        {"timeframe": 1440, "interval": 360, "skillIds": "all", "agentIds": "all"},
        {"timeframe": 20, "interval": 5, "agentIds": "3,4,100"},
    ]
    sent: list[dict[str, object]] = []
    for start in range(0, len(events), 200):
        batch = events[start : start + 200]
        assert one.send("acme", batch).status_code == 200
        sent += batch
        # each answer from the other process is exact right after the acknowledgement
        for params in checks:
            response = other.query("acme", **params)
            assert response.status_code == 200, response.text
            expected = oracle.expected_body(sent, NOW_MS, params)
            oracle.assert_same_body(response.json(), expected, params)
    # and the other way round, for an account the first process has cached answers of
    assert one.query("acme", timeframe=60).status_code == 200
    late = [connected("late-1", NOW_MS - 1000), closed("late-2", NOW_MS - 2000)]
    assert ack(other.send("acme", late))["accepted"] == 2
    expected = oracle.expected_body([*sent, *late], NOW_MS, {"timeframe": 60})
    oracle.assert_same_body(one.query("acme", timeframe=60).json(), expected, "late")


def _pool_of_events(count: int) -> list[dict[str, object]]:
    pool: list[dict[str, object]] = []
    for i in range(count):
        t = NOW_MS - (i % 120) * 60_000
        if i % 3 == 0:
            pool.append(connected(f"ev-{i}", t, skill=i % 4, agent=i % 5))
        else:
            skill = i % 4 if i % 7 else None
            agent = i % 5 if i % 11 else None
            pool.append(closed(f"ev-{i}", t, skill, agent, interactive=i % 2 == 0, handling=i))
    return pool


def test_concurrent_overlapping_batches_through_two_processes(
    pair: tuple[Server, Server],
) -> None:
    servers = list(pair)
    pool = _pool_of_events(600)
    accepted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def sender(seed: int) -> None:
        rng = random.Random(seed)
        # overlapping random batches, then a slice so the 8 senders together cover the pool
        batches = [rng.sample(pool, rng.randint(20, 120)) for _ in range(12)]
        batches.append(pool[seed * 75 : (seed + 1) * 75])
        try:
            clients = [httpx.Client(base_url=s.base_url, timeout=60) for s in servers]
            barrier.wait()
            for n, batch in enumerate(batches):
                client = clients[(seed + n) % 2]
                if n % 2:
                    response = client.post("/api/v1/accounts/acme/events", json=batch)
                else:
                    response = client.post(
                        "/api/v1/accounts/acme/events", content=ndjson(batch), headers=NDJSON
                    )
                result = ack(response)
                assert result["accepted"] + result["duplicates"] == len(batch)
                with lock:
                    accepted.append(result["accepted"])
            for client in clients:
                client.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(accepted) == len(pool)  # each event accepted exactly once, somewhere
    for srv in servers:
        assert totals(srv, "acme") == total_of(pool)
        params = {"timeframe": 1440, "interval": 60, "skillIds": "all", "agentIds": "all"}
        response = srv.query("acme", **params)
        oracle.assert_same_body(
            response.json(), oracle.expected_body(pool, NOW_MS, params), srv.base_url
        )


def test_kill_9_during_ingestion_loses_no_acknowledged_event(
    pair: tuple[Server, Server],
) -> None:
    victim, survivor = pair
    batches = [[connected(f"k-{b}-{i}", NOW_MS - i * 1000) for i in range(50)] for b in range(150)]
    acknowledged: list[int] = []
    unsure: list[int] = []
    counter = itertools.count()
    stop_at = 60
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with httpx.Client(base_url=victim.base_url, timeout=10) as client:
                while (index := next(counter)) < len(batches):
                    try:
                        response = client.post("/api/v1/accounts/acme/events", json=batches[index])
                    except httpx.HTTPError:
                        unsure.append(index)
                        continue
                    if response.status_code == 200:
                        acknowledged.append(index)
                    else:
                        unsure.append(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < stop_at:
        time.sleep(0.005)
    victim.kill()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(acknowledged) >= stop_at and unsure
    # Every acknowledged event is counted (and at most the ones sent).
    counted = totals(survivor, "acme")[4]
    assert len(acknowledged) * 50 <= counted <= (len(acknowledged) + len(unsure)) * 50
    # The producer resends what it was not sure of through the survivor: exact totals.
    for index in unsure:
        result = ack(survivor.send("acme", batches[index]))
        assert result["accepted"] in (0, 50)  # a batch is all or nothing
    for index in acknowledged[:20]:
        assert ack(survivor.send("acme", batches[index]))["duplicates"] == 50
    assert totals(survivor, "acme")[4] == len(batches) * 50


# -- the database restarted under the service ---------------------------------------------------


class PrivateCluster:
    """A PostgreSQL cluster of this test alone (initdb on a free port), to stop at will."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="engactivity-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://engactivity@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(
            PG_BIN / "initdb", "-D", self.data, "-U", "engactivity", "-A", "trust", "--no-sync"
        )

    def _as_postgres(self, *args: object) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, args)],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.data, "-o", options, "-l", self.dir / "log", "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists():
        message = "needs root and PostgreSQL 15 (scripts/start-test-postgres)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    made = PrivateCluster()
    made.start()
    yield made
    made.remove()


@pytest.mark.parametrize("auth", ["default", "--insecure-no-auth"])
def test_database_restart_gives_503_then_recovers(
    tmp_path: Path, cluster: PrivateCluster, auth: str
) -> None:
    srv = pg_server(tmp_path, cluster.url, workers=2)
    if auth != "default":
        srv.extra_args.append(auth)
    srv.start()
    try:
        first = [connected(f"a-{i}", NOW_MS - i * 1000) for i in range(20)]
        assert ack(srv.send("acme", first))["accepted"] == 20
        assert totals(srv, "acme")[4] == 20

        cluster.stop()
        with httpx.Client(base_url=srv.base_url, timeout=30) as client:
            for _ in range(3):  # each worker, connections old and new
                for response in (
                    client.get(
                        "/operations/api/account/acme/engactivity",
                        params={"timeframe": 60, "v": 1},
                    ),
                    client.post("/api/v1/accounts/acme/events", json=[connected("during")]),
                    client.get("/readyz"),
                ):
                    assert response.status_code == 503, response.text
                    assert response.headers["content-type"].startswith("application/json")
                    body = response.json()
                    assert body["error"] and body["message"]
            assert client.get("/healthz").status_code == 200  # the process itself is fine

        cluster.start()
        # Each worker's pool reconnects on its own (with psycopg_pool's backoff of a
        # few seconds): recovered means every request answers again, on both workers.
        deadline = time.monotonic() + 30
        in_a_row = 0
        while in_a_row < 10:
            assert time.monotonic() < deadline, "no recovery after the database came back"
            ok = srv.query("acme", timeframe=60).status_code == 200
            in_a_row = in_a_row + 1 if ok else 0
            time.sleep(0 if ok else 0.2)
        later = [connected(f"b-{i}", NOW_MS - i * 1000) for i in range(10)]
        for _ in range(4):  # through both workers
            assert ack(srv.send("acme", later))["accepted"] in (0, 10)
            assert ack(srv.send("acme", [connected("during")]))["accepted"] in (0, 1)
            assert totals(srv, "acme")[4] == 31
            assert httpx.get(f"{srv.base_url}/readyz", timeout=10).status_code == 200
    finally:
        srv.stop()


def _assert_503(response: requests.Response | httpx.Response) -> None:
    """The API's own answer for a store that does not answer, key checks included."""
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "store_unavailable"


def test_database_restart_with_keys_gives_503_not_401_then_recovers(
    tmp_path: Path, cluster: PrivateCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys are looked up in the database: while it is down a key cannot be checked, so
    the answer is 503 (retry), neither 401 nor a reset connection; after, the same keys
    work again and a revoked one is still refused."""
    monkeypatch.setenv("ENGACTIVITY_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    srv = pg_server(tmp_path, cluster.url, workers=2).start()
    try:
        writer = create_key(srv.store_url, "acme", "write", kind="bearer")
        reader = create_key(srv.store_url, "acme", "read")  # OAuth 1.0a
        gone = create_key(srv.store_url, "acme", "write", kind="bearer")
        revoke_key(srv.store_url, gone["keyId"])
        url = f"{srv.base_url}/api/v1/accounts/acme/events"
        query = f"{srv.base_url}/operations/api/account/acme/engactivity"
        params = {"timeframe": 60, "v": 1}

        def read() -> requests.Response:
            return requests.get(query, params=params, auth=oauth1(reader), timeout=30)

        def write(key: dict[str, str], name: str) -> httpx.Response:
            return httpx.post(url, json=[connected(name)], headers=bearer(key), timeout=30)

        assert ack(write(writer, "before"))["accepted"] == 1
        assert read().status_code == 200

        cluster.stop()
        for _ in range(3):  # each worker, connections old and new
            _assert_503(read())
            _assert_503(write(writer, "during"))
            _assert_503(write(gone, "during"))

        cluster.start()
        deadline = time.monotonic() + 30
        # Several in a row: each worker's store pool may still hold a dropped connection.
        while not all(read().status_code == 200 for _ in range(6)):
            assert time.monotonic() < deadline, "no recovery after the database came back"
            time.sleep(0.2)
        for n in range(4):  # through both workers
            assert ack(write(writer, f"after-{n}"))["accepted"] == 1
            assert read().json()["metricsTotals"]["connectedEngagements"] == 2 + n
            assert write(gone, "after").status_code == 401
    finally:
        srv.stop()
