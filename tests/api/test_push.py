"""Event streams of the query endpoints (Accept: text/event-stream), over real HTTP.

A stream is read by httpx-sse in a thread while the test ingests; its answers are
compared with what a poll of the same question gets, and with the oracles.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from tests import oracle, oracle_queue
from tests.api.test_agentactivity import make_events as agent_events
from tests.api.test_engactivity import heavy_events, ingest
from tests.api.test_metrics import scrape, value
from tests.api.test_queue import make_events as queue_events
from tests.auth.keyhelp import bearer, create_key
from tests.balanced import BALANCED
from tests.conftest import NOW_MS, Server

MakeServer = Callable[..., Server]
STREAM = {"Accept": "text/event-stream"}
FAST = ("--push-period-ms", "200", "--push-heartbeat-s", "1")
"""Flags of most servers here (a tuple: the fixture appends to the list it is given)."""
A = "pushed"

QUESTIONS: list[tuple[str, dict[str, object]]] = [
    ("engactivity", {"timeframe": 60, "skillIds": "all", "agentIds": "all", "interval": 15}),
    ("queuehealth", {"timeframe": 60, "skillIds": "all", "interval": 30}),
    ("queuestate", {"skillIds": "all"}),
    ("sla", {"timeframe": 60, "skillIds": "all", "histogram": "0,30,60"}),
    ("agentactivity", {"timeframe": 60, "agentIds": "all"}),
]
ORACLES: dict[str, Callable[[list[Any], int, dict[str, object]], Any]] = {
    "engactivity": oracle.expected_body,
    "queuehealth": oracle_queue.queuehealth,
    "queuestate": oracle_queue.queuestate,
    "sla": oracle_queue.sla,
}


def url(server: Server, method: str, account: str = A) -> str:
    return f"{server.base_url}/operations/api/account/{account}/{method}"


def poll(server: Server, method: str, params: dict[str, object], account: str = A) -> Any:
    response = httpx.get(url(server, method, account), params={"v": 1, **params}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


class Reader:
    """One open stream, read on a thread: its events, as they arrive."""

    def __init__(self) -> None:
        self.events: queue.Queue[ServerSentEvent | None] = queue.Queue()
        self.opened = threading.Event()
        self.log: list[tuple[float, ServerSentEvent]] = []
        """Every event with the time it arrived (appended by the reading thread)."""
        self.error: BaseException | None = None

    def next(self, timeout: float = 10) -> ServerSentEvent | None:
        return self.events.get(timeout=timeout)

    def answers_until(self, done: Callable[[Any], bool], timeout: float = 10) -> Any:
        """Read answers until one satisfies ``done``; that one."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                event = self.next(max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                message = f"no such answer in {timeout} s; the last: {last}"
                raise AssertionError(message) from None
            assert event is not None, "the stream ended"
            if event.event == "answer":
                last = orjson.loads(event.data)
                if done(last):
                    return last


@contextmanager
def subscribed(
    server: Server,
    method: str,
    params: dict[str, object],
    headers: dict[str, str] | None = None,
    account: str = A,
) -> Iterator[Reader]:
    reader = Reader()
    stop = threading.Event()

    def read() -> None:
        try:
            with (
                httpx.Client(timeout=30) as client,
                connect_sse(
                    client,
                    "GET",
                    url(server, method, account),
                    params={"v": 1, **params},
                    headers=dict(headers or {}),
                ) as source,
            ):
                assert source.response.status_code == 200, source.response.read()
                reader.opened.set()
                for event in source.iter_sse():
                    # A heartbeat is a comment, but after an event with an id httpx-sse turns
                    # its blank line into a "message" with no data (browsers dispatch nothing).
                    if event.data:
                        reader.log.append((time.monotonic(), event))
                        reader.events.put(event)
                    if stop.is_set():
                        return
        except BaseException as exc:  # surfaced by the test through reader.error
            reader.error = exc
        finally:
            reader.opened.set()
            reader.events.put(None)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert reader.opened.wait(15)
    assert reader.error is None, reader.error
    try:
        yield reader
    finally:
        stop.set()


def first_answer(reader: Reader) -> tuple[ServerSentEvent, Any]:
    event = reader.next()
    assert event is not None and event.event == "answer"
    assert event.id.isdigit()
    return event, orjson.loads(event.data)


def test_every_method_streams_the_poll_answer_then_follows_the_data(
    make_server: MakeServer,
) -> None:
    server = make_server([*FAST])
    rng = random.Random(5)
    before = queue_events(rng, 300)
    assert server.send(A, before).status_code == 200
    renamed = [{**e, "eventId": f"later-{e['eventId']}"} for e in queue_events(rng, 300)]
    after = renamed + agent_events(rng, 200)
    # The oracles of these methods read the types they count (agentState is not one).
    seen = before + [e for e in after if e["type"] != "agentState"]
    with (
        subscribed(server, *QUESTIONS[0]) as engactivity,
        subscribed(server, *QUESTIONS[1]) as queuehealth,
        subscribed(server, *QUESTIONS[2]) as queuestate,
        subscribed(server, *QUESTIONS[3]) as sla,
        subscribed(server, *QUESTIONS[4]) as agentactivity,
    ):
        readers = [engactivity, queuehealth, queuestate, sla, agentactivity]
        firsts = {}
        for (method, params), reader in zip(QUESTIONS, readers, strict=True):
            _, firsts[method] = first_answer(reader)
            assert firsts[method] == poll(server, method, params), method
            if method in ORACLES:
                expected = ORACLES[method](before, NOW_MS, params)
                oracle.assert_same_body(firsts[method], expected, method)
        assert server.send(A, after).status_code == 200
        for (method, params), reader in zip(QUESTIONS, readers, strict=True):
            now = poll(server, method, params)
            assert now != firsts[method], f"{method}: the new events change nothing"
            pushed = reader.answers_until(lambda body, now=now: body == now)
            if method in ORACLES:
                expected = ORACLES[method](seen, NOW_MS, params)
                oracle.assert_same_body(pushed, expected, method)


def test_a_post_form_streams_too(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    params = {"v": "1", "timeframe": "60"}
    with (
        httpx.Client(timeout=30) as client,
        connect_sse(
            client, "POST", url(server, "engactivity"), data=params, headers=STREAM
        ) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        event = next(source.iter_sse())
        assert event.event == "answer"
        assert orjson.loads(event.data) == poll(server, "engactivity", {"timeframe": 60})


def test_writes_are_coalesced_to_one_event_per_period(make_server: MakeServer) -> None:
    server = make_server(["--push-period-ms", "500"])
    params: dict[str, object] = {"timeframe": 60}
    events = [{**e, "time": NOW_MS - 60_000} for e in queue_events(random.Random(8), 80)]
    with subscribed(server, "engactivity", params) as reader:
        first_answer(reader)
        started = time.monotonic()
        for n, event in enumerate(events):
            assert server.send(A, [event]).status_code == 200
            time.sleep(0.02 if n % 2 else 0)
        writing = time.monotonic() - started
        final = poll(server, "engactivity", params)
        reader.answers_until(lambda body: body == final)
        time.sleep(0.7)  # anything still to come for those writes
        times = [at for at, event in reader.log if event.event == "answer"][1:]
    assert writing > 1.0, "the writes must span several periods"
    # One event per period at most (slack for delivery jitter on a busy machine).
    assert all(b - a > 0.35 for a, b in itertools.pairwise(times)), times
    assert 2 <= len(times) <= writing / 0.5 + 2, (times, writing)


def test_a_change_after_a_quiet_period_is_pushed_at_once(make_server: MakeServer) -> None:
    # Leading edge: the first write after a quiet period goes out without waiting for
    # the period; a second write right after it waits for the period to end.
    period = 3.0
    server = make_server(["--push-period-ms", str(int(period * 1000))])
    params: dict[str, object] = {"timeframe": 60}
    first, second = [
        {"eventId": f"lead-{n}", "type": "connected", "time": NOW_MS - 60_000, "skillId": 1}
        | {"agentId": n}
        for n in (1, 2)
    ]
    with subscribed(server, "engactivity", params) as reader:
        _, opened = first_answer(reader)
        time.sleep(period + 0.3)  # quiet for longer than a period
        lags = []
        for event in (first, second):
            assert server.send(A, [event]).status_code == 200
            acknowledged = time.monotonic()
            now = poll(server, "engactivity", params)
            reader.answers_until(lambda body, now=now: body == now, timeout=3 * period)
            lags.append(reader.log[-1][0] - acknowledged)
    assert now != opened
    # Generous bounds: a trailing-edge push would take the whole period for the first.
    assert lags[0] < period / 2, lags
    assert lags[1] > lags[0], lags


CROWD: dict[str, object] = {"timeframe": 60, "agentIds": "all"}
"""The question of ``crowd_stream``."""


@contextmanager
def crowd_stream(server: Server) -> Iterator[Iterator[ServerSentEvent]]:
    """3,000 agents, so that each answer to CROWD is some 250-450 KB (a few dozen fill
    the sockets' buffers), and a stream of CROWD read through a small receive buffer:
    its events, the first one (the opening answer) read already."""
    crowd = [
        {"eventId": f"crowd-{n}", "type": "connected", "time": NOW_MS - 60_000}
        | {"skillId": 1 + n % 20, "agentId": 1 + n}
        for n in range(3000)
    ]
    assert server.send(A, crowd).status_code == 200
    small = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)])
    with (
        httpx.Client(transport=small, timeout=30) as client,
        connect_sse(client, "GET", url(server, "engactivity"), params={"v": 1, **CROWD}) as source,
    ):
        events = source.iter_sse()  # held here until the end: closing it closes the stream
        opened = next(events)
        assert len(opened.data) > 200_000, len(opened.data)
        yield events


def send_change(server: Server, n: int) -> None:
    """A connected event for agent ``1 + n``: each one changes CROWD's answer."""
    event = {"eventId": f"late-{n}", "type": "connected", "time": NOW_MS - 60_000}
    assert server.send(A, [event | {"skillId": 1, "agentId": 1 + n}]).status_code == 200


def test_a_reader_that_stops_reading_gets_the_newest_answer_not_a_backlog(
    make_server: MakeServer,
) -> None:
    # Answers of a few hundred KB: while the reader sleeps, the sockets' buffers fill
    # with a dozen of them at most (4 MB, the kernel's largest send buffer here), and the
    # server must skip the rest (latest wins) rather than keep every change for it.
    # Heartbeats every second land between the answers, as they may in any long read.
    server = make_server(["--push-period-ms", "100", "--push-heartbeat-s", "1"])
    changes = 60
    with crowd_stream(server) as events:
        for n in range(changes):  # each change is its own push: writes a period apart
            send_change(server, n)
            time.sleep(0.15)
        final = poll(server, "engactivity", CROWD)
        received = []
        for event in events:
            if event.event != "answer":  # a heartbeat (see subscribed)
                continue
            received.append(orjson.loads(event.data))
            if received[-1] == final:
                break
    # The newest answer came, after a few others: not one per change (measured: 12 to 28 of
    # 60). Through the balancer nginx's two sockets hold about as many again (measured: 35).
    assert received[-1] == final
    assert len(received) < (changes * 5 / 6 if BALANCED else changes / 2), len(received)


def test_a_client_that_takes_no_bytes_is_dropped_with_a_warning(
    make_server: MakeServer,
) -> None:
    server = make_server(["--push-period-ms", "100", "--push-send-timeout-s", "1"])
    with crowd_stream(server):
        # Answers of some 250 KB, one per change, and the reader takes none: the sockets'
        # buffers fill (a few MB), then a send waits longer than the timeout.
        for n in range(200):
            send_change(server, n)
            if value(scrape(server), "engactivity_push_streams") == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the stream was never dropped")
    log = server.log_path.read_text()
    assert "took no bytes for 1 s; the stream is dropped" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_heartbeats_keep_an_idle_stream_open(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    comments = 0
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "GET", url(server, "queuestate"), params={"v": 1}, headers=STREAM
        ) as response,
    ):
        assert response.status_code == 200
        started = time.monotonic()
        for line in response.iter_lines():
            comments += line.startswith(":")
            if time.monotonic() - started > 2.6:
                break
    assert comments >= 2


def test_many_streams_of_one_question_share_each_computation(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    params: dict[str, object] = {"timeframe": 60, "skillIds": "all"}
    events = queue_events(random.Random(3), 90)
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(subscribed(server, "sla", params)) for _ in range(10)]
        for reader in readers:
            first_answer(reader)
        for start in range(0, 90, 30):
            assert server.send(A, events[start : start + 30]).status_code == 200
            now = poll(server, "sla", params)
            for reader in readers:
                reader.answers_until(lambda body, now=now: body == now)
        samples = scrape(server)
    computations = value(samples, "engactivity_push_computations_total")
    deliveries = value(samples, "engactivity_push_deliveries_total")
    assert computations >= 1
    assert deliveries >= 10 * 3  # each stream saw every one of the three changes
    assert computations < deliveries / 5, (computations, deliveries)


def test_bad_parameters_are_a_json_400_not_a_stream(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    for method, params in [
        ("engactivity", {"v": 1, "timeframe": "soon"}),
        ("sla", {"v": 1, "timeframe": 60, "histogram": "x"}),
        ("agentactivity", {"v": 1, "timeframe": 60, "agentIds": "a,b"}),
    ]:
        response = httpx.get(url(server, method), params=params, headers=STREAM, timeout=30)
        assert response.status_code == 400, (method, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]


def test_streams_need_the_same_credentials_as_polls(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    key = create_key(server.store_url, A, "read", kind="bearer")
    params: dict[str, object] = {"timeframe": 60}
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer ea_not-a-key"}, 401),
    ]:
        response = httpx.get(
            url(server, "engactivity"),
            params={"v": 1, **params},
            headers={**STREAM, **headers},
            timeout=30,
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
    other = create_key(server.store_url, "someone-else", "read", kind="bearer")
    refused = httpx.get(
        url(server, "engactivity"), params={"v": 1}, headers={**STREAM, **bearer(other)}
    )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/json"
    with subscribed(server, "engactivity", params, headers=bearer(key)) as reader:
        _, body = first_answer(reader)
        assert body == oracle.expected_body([], NOW_MS, params)


def test_streams_over_the_cap_are_refused_with_503(make_server: MakeServer) -> None:
    server = make_server([*FAST, "--max-streams", "1"])
    with subscribed(server, "queuestate", {}) as reader:
        first_answer(reader)
        refused = httpx.get(url(server, "queuestate"), params={"v": 1}, headers=STREAM)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "too_many_streams"
        assert refused.headers["retry-after"]
        assert poll(server, "queuestate", {}) is not None  # polls are not capped
    # A closed stream frees its place (once the server notices: at its next heartbeat).
    deadline = time.monotonic() + 10
    while stream_status(server, "queuestate") != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_streams_over_the_accounts_concurrency_limit_get_the_polls_429(
    make_server: MakeServer,
) -> None:
    # A stream's first answer takes a slot of --max-concurrent like a poll: a burst of
    # streams on an account whose one slot is busy is refused at once with the poll's 429.
    server = make_server([*FAST, "--max-concurrent", "1"])
    ingest(server, A, heavy_events(NOW_MS, 20_000), chunk=10_000)  # a slow first answer
    params = {"timeframe": 1440, "interval": 5, "skillIds": "all", "agentIds": "all", "v": 1}
    barrier = threading.Barrier(20)
    refusals: list[httpx.Response] = []
    streams: list[str] = []
    lock = threading.Lock()

    def open_stream() -> None:
        address = url(server, "engactivity")
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            with client.stream("GET", address, params=params, headers=STREAM) as response:
                if response.status_code != 200:
                    response.read()
        with lock:
            if response.status_code == 200:
                streams.append(response.headers["content-type"])
            else:
                refusals.append(response)

    threads = [threading.Thread(target=open_stream) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert streams and refusals, (len(streams), [r.status_code for r in refusals])
    assert all(kind.startswith("text/event-stream") for kind in streams)
    for response in refusals:
        assert response.status_code == 429, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"] == "too_many_requests"
    # Once the burst is over, a stream of the question opens (its answer is kept by then).
    with subscribed(server, "engactivity", {k: v for k, v in params.items() if k != "v"}) as r:
        assert first_answer(r)[1] == poll(server, "engactivity", params)


def stream_status(server: Server, method: str) -> int:
    """The status a new stream gets (it is closed at once)."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", url(server, method), params={"v": 1}, headers=STREAM) as response,
    ):
        return response.status_code


def test_shutdown_ends_open_streams_with_a_last_event(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    with subscribed(server, "engactivity", {"timeframe": 60}) as reader:
        first_answer(reader)
        assert server.proc is not None
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        last = reader.next(timeout=15)
        assert last is not None and last.event == "end", last
        assert orjson.loads(last.data)["reason"] == "shutting_down"
        assert last.retry == 5000
        assert reader.next(timeout=15) is None  # then the stream closes
        assert reader.error is None, reader.error  # cleanly: the chunked body is complete
        assert server.proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10


def test_a_stream_is_sent_when_accept_lists_event_streams(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    for accept, streamed in [
        ("text/event-stream", True),
        ("application/json, text/event-stream;q=0.5", True),
        ("Text/Event-Stream ; q=1", True),
        ("text/event-stream;q=0", False),
        ("text/event-stream;q=zero", False),
        ("application/json", False),
        ("*/*", False),
    ]:
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "GET", url(server, "queuestate"), params={"v": 1}, headers={"Accept": accept}
            ) as response,
        ):
            assert response.status_code == 200
            kind = response.headers["content-type"]
            assert kind.startswith("text/event-stream" if streamed else "application/json"), accept


def test_open_streams_are_counted_until_they_close(make_server: MakeServer) -> None:
    server = make_server([*FAST])
    with (
        subscribed(server, "queuestate", {}) as reader,
        subscribed(server, "sla", {"timeframe": 60}) as other,
    ):
        first_answer(reader)
        first_answer(other)
        assert value(scrape(server), "engactivity_push_streams") == 2
    # The server notices a closed stream when it next writes to it (a heartbeat, 1 s).
    deadline = time.monotonic() + 10
    while value(scrape(server), "engactivity_push_streams") != 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.parametrize("store_engine", ["postgresql"])
def test_every_process_pushes_writes_made_through_another(make_server: MakeServer) -> None:
    # Two processes on one database: the stream is served by one of them, the writes land
    # on either; the other process's are seen when its question looks at the version.
    server = make_server([*FAST])
    params: dict[str, object] = {"timeframe": 60, "skillIds": "all"}
    events = queue_events(random.Random(11), 200)
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(subscribed(server, "sla", params)) for _ in range(4)]
        for reader in readers:
            first_answer(reader)
        for start in range(0, 200, 20):
            assert server.send(A, events[start : start + 20]).status_code == 200
        expected = oracle_queue.sla(events, NOW_MS, params)
        for reader in readers:
            oracle.assert_same_body(reader.answers_until(lambda body: body == expected), expected)


def test_idle_streams_hold_no_concurrency_slot(make_server: MakeServer) -> None:
    # One request in flight per account: open streams must leave it free for polls.
    server = make_server([*FAST, "--max-concurrent", "1"])
    params: dict[str, object] = {"timeframe": 60}
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(subscribed(server, "engactivity", params)) for _ in range(3)]
        firsts = [first_answer(reader)[1] for reader in readers]
        for _ in range(5):
            assert poll(server, "queuestate", {}) is not None  # 200, not 429
        events = [{**e, "time": NOW_MS - 60_000} for e in queue_events(random.Random(2), 50)]
        assert server.send(A, events).status_code == 200
        now = poll(server, "engactivity", params)
        assert now != firsts[0]
        for reader in readers:
            reader.answers_until(lambda body: body == now)
