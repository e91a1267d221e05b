"""engactivity backup / restore: a consistent copy taken while ingestion runs."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests import oracle_queue
from tests.api.test_durability import QUERIES, Batch, Senders, answers
from tests.api.test_ingest import ack, sample_events
from tests.api.test_queue import make_events
from tests.api.test_shutdown import distinct_batches
from tests.conftest import NOW_MS, Server

MakeServer = Callable[..., Server]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engactivity", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def committed_batches(server: Server, batches: list[Batch]) -> list[Batch]:
    """Which batches the server's store holds; each must be there whole or not at all.

    Resending adds the missing ones, so this changes the store.
    """
    held: list[Batch] = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for batch in batches:
            body = ack(client.post("/api/v1/accounts/crash/events", json=batch))
            if body["duplicates"] == len(batch):
                held.append(batch)
            else:
                assert body == {"accepted": len(batch), "duplicates": 0, "expired": 0}, body
    return held


def crash_answers(server: Server) -> list[Any]:
    return answers(server, "crash")


def test_backup_while_ingesting_restores_the_backup_point(
    server: Server, make_server: MakeServer, tmp_path: Path
) -> None:
    batches = distinct_batches(count=300, size=100, prefix="bk")
    senders = Senders(server, batches, threads=4)
    senders.start()
    deadline = time.monotonic() + 15
    while len(senders.acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.002)
    acked_before = list(senders.acked)
    dest = tmp_path / "backups" / "b1.db"
    done = cli("backup", "--store", server.store_url, str(dest), "--json")
    assert done.returncode == 0, done.stderr
    # Ingestion goes on after the backup: these batches, acknowledged once it is done,
    # are surely after its point (the senders' may all be in by then on a fast machine).
    later = distinct_batches(count=20, size=100, prefix="bk-later")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for batch in later:
            ack(client.post("/api/v1/accounts/crash/events", json=batch))
    senders.join()
    assert not senders.failures, senders.failures[:5]
    assert dest.is_file()
    assert not dest.with_name(dest.name + "-wal").exists()  # one self-contained file
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # Restore into a fresh store, then serve it.
    (tmp_path / "restored").mkdir()
    restored = Server(tmp_path / "restored")
    done = cli("restore", str(dest), "--store", restored.store_url)
    assert done.returncode == 0, done.stderr
    restored.start()
    try:
        restored_answers = crash_answers(restored)
        held = committed_batches(restored, [*batches, *later])
    finally:
        restored.stop()
    # The backup's point: every batch acknowledged before the backup began, whole
    # batches only, and none acknowledged after it was done.
    held_ids = {id(b) for b in held}
    assert all(id(b) in held_ids for b in acked_before)
    assert not any(id(b) in held_ids for b in later)

    # The restored store answers exactly like a store fed those batches alone.
    reference = make_server(name="reference")
    with httpx.Client(base_url=reference.base_url, timeout=30) as client:
        for batch in held:
            ack(client.post("/api/v1/accounts/crash/events", json=batch))
    assert crash_answers(reference) == restored_answers
    assert len(restored_answers) == len(QUERIES)


def test_restore_refuses_a_store_in_use_unless_forced(server: Server, tmp_path: Path) -> None:
    assert ack(server.send("acme", sample_events("one")))["accepted"] == 6
    dest = tmp_path / "one.db"
    assert cli("backup", "--store", server.store_url, str(dest)).returncode == 0
    before = answers(server, "acme")
    assert ack(server.send("acme", sample_events("two")))["accepted"] == 6
    assert answers(server, "acme") != before

    # A second backup to the same file is refused; a missing store is an error.
    again = cli("backup", "--store", server.store_url, str(dest))
    assert again.returncode == 2 and "already exists" in again.stderr
    missing = cli("backup", "--store", f"sqlite:///{tmp_path / 'nope.db'}", str(tmp_path / "x"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "nope.db").exists()

    refused = cli("restore", str(dest), "--store", server.store_url)
    assert refused.returncode == 2, refused.stdout
    assert "in use" in refused.stderr
    assert answers(server, "acme") != before

    # Forced: restored under the running server, which reloads within a second or so.
    forced = cli("restore", str(dest), "--store", server.store_url, "--force")
    assert forced.returncode == 0, forced.stderr
    deadline = time.monotonic() + 10
    while answers(server, "acme") != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answers(server, "acme") == before
    # The ids came back with the data: the first batch is known, the second is not.
    assert ack(server.send("acme", sample_events("one")))["duplicates"] == 6
    assert ack(server.send("acme", sample_events("two")))["accepted"] == 6

    # Stopped: restore needs no force, and the data survives a restart.
    server.stop()
    assert cli("restore", str(dest), "--store", server.store_url).returncode == 0
    server.start()
    assert answers(server, "acme") == before


def test_restore_rejects_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    target = tmp_path / "store.db"
    done = cli("restore", str(junk), "--store", f"sqlite:///{target}")
    assert done.returncode == 2
    assert "junk.db" in done.stderr
    postgres = cli("backup", "--store", "postgresql://db/engactivity", str(tmp_path / "x.db"))
    assert postgres.returncode == 2 and "pg_dump" in postgres.stderr


QUEUE_QUERIES: list[tuple[str, dict[str, object]]] = [
    ("queuehealth", {"timeframe": 1440, "skillIds": "all", "interval": 60}),
    ("queuehealth", {"timeframe": 60}),
    ("queuestate", {"skillIds": "all"}),
    ("sla", {"timeframe": 1440, "groupIds": "all", "histogram": "0,30,60,300"}),
]


def queue_answers(server: Server) -> list[Any]:
    out = []
    for method, params in QUEUE_QUERIES:
        response = httpx.get(
            f"{server.base_url}/operations/api/account/q/{method}",
            params={"v": 1, **params},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


def test_a_restored_store_answers_the_queue_methods_as_the_spec_says(
    server: Server, tmp_path: Path
) -> None:
    events = make_events(random.Random(5), 800)
    assert ack(server.send("q", events))["accepted"] == len(events)
    dest = tmp_path / "q.db"
    assert cli("backup", "--store", server.store_url, str(dest)).returncode == 0
    (tmp_path / "restored").mkdir()
    restored = Server(tmp_path / "restored")
    assert cli("restore", str(dest), "--store", restored.store_url).returncode == 0
    restored.start()
    try:
        got = queue_answers(restored)
        assert ack(restored.send("q", events))["duplicates"] == len(events)
    finally:
        restored.stop()
    oracles = {
        "queuehealth": oracle_queue.queuehealth,
        "queuestate": oracle_queue.queuestate,
        "sla": oracle_queue.sla,
    }
    for answer, (method, params) in zip(got, QUEUE_QUERIES, strict=True):
        oracle_queue.same(answer, oracles[method](events, NOW_MS, params))
