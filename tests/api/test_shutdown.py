"""Graceful shutdown: SIGTERM under steady ingestion loses nothing acknowledged.

The server stops accepting connections, lets the requests in flight finish, then
closes the store. A batch is either committed and acknowledged, or not acknowledged
(and then it is wholly stored or wholly absent, so resending it is always safe).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest

from tests.api.test_durability import Batch, Senders
from tests.api.test_ingest import ack, closed, connected, total_of, totals
from tests.conftest import MIN, NOW_MS, Server

MakeServer = Callable[..., Server]


def distinct_batches(count: int, size: int, prefix: str) -> list[Batch]:
    """Batches with no event in common, so each one can be checked on its own."""
    batches: list[Batch] = []
    for b in range(count):
        batch: Batch = []
        for i in range(size):
            n = b * size + i
            t = NOW_MS - (n % (23 * 60)) * MIN
            if n % 3 == 0:
                batch.append(connected(f"{prefix}-{n}", t, skill=n % 5, agent=n % 7))
            else:
                batch.append(
                    closed(f"{prefix}-{n}", t, skill=n % 5, agent=n % 7, handling=100 + n % 50)
                )
        batches.append(batch)
    return batches


def stored_whole_or_not_at_all(server: Server, batches: list[Batch]) -> tuple[int, int]:
    """Resend each batch: it must be all duplicates (stored) or all accepted (absent)."""
    stored = absent = 0
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for batch in batches:
            body = ack(client.post("/api/v1/accounts/crash/events", json=batch))
            if body["duplicates"] == len(batch):
                stored += 1
            else:
                assert body == {"accepted": len(batch), "duplicates": 0, "expired": 0}, body
                absent += 1
    return stored, absent


def test_sigterm_under_load_loses_no_acknowledged_event(server: Server) -> None:
    batches = distinct_batches(count=600, size=200, prefix="term")
    senders = Senders(server, batches, threads=6)
    senders.start()
    deadline = time.monotonic() + 15
    while len(senders.acked) < 30 and time.monotonic() < deadline:
        time.sleep(0.002)
    assert server.proc is not None
    proc = server.proc
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = proc.wait(timeout=20)
    stopped_in = time.monotonic() - started
    server.proc = None
    senders.join()
    assert not senders.failures, senders.failures[:5]
    # SIGTERM came in the middle of the load: the batches sent after it were refused.
    assert senders.unacked and len(senders.acked) < len(batches)
    assert code == 0, server.log_path.read_text()
    assert stopped_in < 12
    log = server.log_path.read_text()
    assert "Traceback" not in log, log
    assert "store closed" in log, log
    # The store was closed cleanly: the WAL was checkpointed into the file and removed.
    assert not server.db.with_name(server.db.name + "-wal").exists()

    server.start()
    # Every acknowledged batch is stored, exactly once.
    acked_totals = total_of([e for batch in senders.acked for e in batch])
    stored_before = totals(server, "crash")
    stored, absent = stored_whole_or_not_at_all(server, senders.acked)
    assert (stored, absent) == (len(senders.acked), 0)
    # Unacknowledged batches were stored whole or not at all: never half a batch.
    stored_unacked, _ = stored_whole_or_not_at_all(server, senders.unacked)
    # Before the resends, the store held the acked batches plus those unacknowledged
    # batches found whole: acked <= stored before <= everything sent.
    assert all(a <= b for a, b in zip(acked_totals, stored_before, strict=True))
    if stored_unacked == 0:
        assert stored_before == acked_totals
    all_sent = [e for batch in senders.acked + senders.unacked for e in batch]
    assert totals(server, "crash") == total_of(all_sent)


def post_in_background(
    server: Server, body: Iterator[bytes]
) -> tuple[threading.Thread, list[httpx.Response | Exception]]:
    """POST a streamed batch from a thread; the list receives the answer or the error."""
    result: list[httpx.Response | Exception] = []

    def send() -> None:
        try:
            result.append(
                httpx.post(
                    f"{server.base_url}/api/v1/accounts/crash/events",
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
            )
        except httpx.HTTPError as exc:
            result.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    return thread, result


def test_sigterm_lets_a_request_in_flight_finish(server: Server) -> None:
    """A batch whose upload has begun when SIGTERM arrives is still stored and answered."""
    batch = distinct_batches(count=1, size=2000, prefix="slow")[0]
    body = orjson.dumps(batch)
    signalled = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield body[:100]
        signalled.wait(10)
        time.sleep(0.3)  # the server is draining by now
        yield body[100:]

    thread, result = post_in_background(server, slow_body())
    time.sleep(0.3)  # the headers and the first bytes are on their way
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    signalled.set()
    thread.join()
    assert server.proc.wait(timeout=20) == 0
    server.proc = None
    (response,) = result
    assert isinstance(response, httpx.Response), response
    assert ack(response)["accepted"] == len(batch)
    # New connections are refused once the server has stopped.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/healthz", timeout=2)
    server.start()
    assert totals(server, "crash") == total_of(batch)


def test_shutdown_timeout_bounds_a_stuck_request(make_server: MakeServer) -> None:
    """A client that never finishes its upload does not hold the server up for long,
    and its batch is neither acknowledged nor stored."""
    server = make_server(["--shutdown-timeout", "1"])
    batch = distinct_batches(count=1, size=50, prefix="stuck")[0]
    body = orjson.dumps(batch)
    release = threading.Event()

    def stuck_body() -> Iterator[bytes]:
        yield body[:50]
        release.wait(30)
        yield body[50:]

    thread, result = post_in_background(server, stuck_body())
    time.sleep(0.3)
    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=20) == 0
    assert time.monotonic() - started < 6
    server.proc = None
    release.set()
    thread.join()
    (outcome,) = result
    assert not (isinstance(outcome, httpx.Response) and outcome.status_code == 200)
    assert "store closed" in server.log_path.read_text()
    server.start()
    assert totals(server, "crash") == (0, 0, 0, 0, 0)


def test_ctrl_c_also_drains_and_closes_the_store(server: Server) -> None:
    batch = distinct_batches(count=1, size=100, prefix="int")[0]
    assert ack(server.send("crash", batch))["accepted"] == 100
    assert server.proc is not None
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=20) == 0
    server.proc = None
    assert "store closed" in server.log_path.read_text()
    assert not server.db.with_name(server.db.name + "-wal").exists()
    server.start()
    assert totals(server, "crash") == total_of(batch)
