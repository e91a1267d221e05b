"""Unit tests of the pure parts of the benchmark harness, and of its wait for an idle
server (make bench-quick runs the rest)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from bench.load import WrkError, parse_wrk, post_script, to_bytes, to_ms
from bench.report import out_of_reach, shown_params
from bench.run import Query, first_difference
from bench.servers import Process, keep_alive_args
from bench.stats import percentile

from tests.keepalive import reused_after

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40123/operations/api/account/1/engactivity?timeframe=60&v=1
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  612.40us  21.03ms   91.20%
    Req/Sec    10.71k   801.22    12.02k    74.00%
  Latency Distribution
     50%    1.41ms
     75%    1.62ms
     90%    1.95ms
     99%    1.20s
  63940 requests in 3.00s, 12.41MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  21310.45
Transfer/sec:      4.14MB
"""


def test_parse_wrk() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 63940
    assert result.seconds == pytest.approx(3.0)
    assert result.rps == pytest.approx(21310.45)
    assert result.p50_ms == pytest.approx(1.41)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.bytes_read == pytest.approx(12.41 * 1024**2)
    assert (result.non_2xx, result.socket_errors, result.timeouts) == (7, 3, 2)
    assert not result.ok


def test_parse_wrk_clean_run() -> None:
    lines = WRK_OUTPUT.splitlines()
    clean = "\n".join(line for line in lines if "errors" not in line and "Non-2xx" not in line)
    result = parse_wrk(clean)
    assert (result.non_2xx, result.socket_errors) == (0, 0)
    assert result.ok


def test_parse_wrk_rejects_garbage() -> None:
    with pytest.raises(WrkError):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


@pytest.mark.parametrize(
    ("text", "expected"), [("850.00us", 0.85), ("3.5ms", 3.5), ("2.00s", 2000.0), ("1.5m", 90_000)]
)
def test_to_ms(text: str, expected: float) -> None:
    assert to_ms(text) == pytest.approx(expected)


def test_to_bytes() -> None:
    assert to_bytes("512.00B") == 512
    assert to_bytes("1.50KB") == 1536


def test_first_difference_ignores_key_order() -> None:
    a = {"x": {"1": 1, "2": 2}, "l": [1, 2]}
    b = {"l": [1, 2], "x": {"2": 2, "1": 1}}
    assert first_difference(a, b) is None
    assert first_difference(a, {**b, "l": [1, 3]}) == "$.l[1]: ours 2, peer 3"
    assert "only in peer ['3']" in str(first_difference(a, {**b, "x": {"1": 1, "2": 2, "3": 3}}))


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7


def test_first_difference_compares_numbers_as_numbers() -> None:
    # QUEUE.md: doubles are compared as numbers, so 0 and 0.0 agree; other types do not.
    assert first_difference({"rate": 0}, {"rate": 0.0}) is None
    assert first_difference([1.0, -1], [1, -1.0]) is None
    assert first_difference({"rate": 0.13}, {"rate": 0.14}) == "$.rate: ours 0.13, peer 0.14"
    assert first_difference({"n": 1}, {"n": "1"}) == "$.n: ours 1, peer '1'"
    assert first_difference({"n": 1}, {"n": True}) == "$.n: ours 1, peer True"


def test_post_script_keeps_the_body_whole() -> None:
    body = b'{"agentIds":"1,2","note":"]]"}'
    script = post_script(body)
    assert 'wrk.method = "POST"' in script
    assert "wrk.body = [=[" + body.decode() + "]=]" in script


def test_a_post_query_sends_its_parameters_as_strings() -> None:
    q = Query("AA4", "t", "1", "timeframe=1440&agentIds=1,2&interval=1440", "agentactivity", True)
    assert q.path == "/operations/api/account/1/agentactivity"
    assert orjson.loads(q.body or b"") == {
        "timeframe": "1440",
        "agentIds": "1,2",
        "interval": "1440",
        "v": "1",
    }
    assert Query("Q1", "t", "1", "timeframe=60").body is None


def test_out_of_reach_names_only_the_targets_the_floor_rules_out() -> None:
    def row(name: str, peer: float, floor_after: float, floor: float) -> dict[str, object]:
        return {
            "name": name,
            "cold_peer_p50": peer,
            "cold_floor_ms": floor_after,
            "floor_ms": floor,
        }

    rows = [row("QS1", 6.0, 0.7, 0.2), row("Q1", 80.0, 0.7, 0.2), row("AA1", 1900.0, 40.0, 33.0)]
    text = " ".join(out_of_reach(rows))
    assert "for QS1 (peer 6.00 ms, floor 0.70 ms):" in text
    assert "5 ms for AA1 (floor 33.0 ms):" in text
    assert "Q1 " not in text
    assert out_of_reach([row("Q1", 80.0, 0.7, 0.2)]) == []


def test_shown_params_count_long_lists() -> None:
    ids = ",".join(map(str, range(1, 501)))
    query = {"params": f"agentIds={ids}&timeframe=60", "post": True}
    assert shown_params(query) == "POST agentIds=<500 ids>&timeframe=60"
    assert shown_params({"params": "skillIds=1,2,3&timeframe=60"}) == "skillIds=1,2,3&timeframe=60"


BUSY_SERVER = """
import http.server, sys, threading, time
served = threading.Event()
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        served.set()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health)
threading.Thread(target=server.serve_forever, daemon=True).start()
served.wait()
until = time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    pass
time.sleep(600)
"""


@pytest.mark.parametrize(("busy_s", "limit_s"), [(1.5, 30), (30, 1)])
def test_wait_idle_waits_while_the_process_works(
    tmp_path: Path, busy_s: float, limit_s: float
) -> None:
    """A server busy after its start (sweeping its event ids): the timing waits for it,
    at most ``limit_s``."""
    args = ["-c", BUSY_SERVER, "{port}", str(busy_s)]
    process = Process("busy", args, tmp_path / "busy.log").start()
    try:
        waited = process.wait_idle(limit_s=limit_s)
    finally:
        process.stop()
    assert min(busy_s, limit_s) - 0.3 <= waited <= min(busy_s, limit_s) + 3


def test_the_floor_keeps_idle_connections_open_as_engactivity_does(tmp_path: Path) -> None:
    # The benchmark's client waits seconds on a slow peer between two requests to the
    # floor; with uvicorn's default of 5 s the floor closed the connection meanwhile.
    floor = Process(
        "floor",
        ["-m", "bench.floor", "--bodies", str(tmp_path), "--port", "{port}", *keep_alive_args()],
        tmp_path / "floor.log",
    ).start()
    try:
        assert reused_after(floor.port, 6.0, "/healthz")
    finally:
        floor.stop()
