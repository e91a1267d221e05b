"""``python -m bench [--quick]``: set up, run and report the benchmark in one go.

1. data: the standard day (:mod:`bench.data`), cached under ``bench/.cache``.
2. ingest: our server (``engactivity serve``, SQLite, ``--sync full``, clock pinned at
   :data:`bench.data.NOW_MS`) on a fresh store; batches of 1000 from 4 concurrent
   senders (:mod:`bench.ingest`); then a second fresh server for the run with 10%
   duplicates, whose answers must equal the first one's.
3. queries on ours, the naive peer (:mod:`bench.peer`) and the floor
   (:mod:`bench.floor`), with wrk (:mod:`bench.load`): Q1-Q7 of engagement activity,
   QH1-QH4 of queue health, QS1-QS2 of the current queue state, SLA1-SLA2 of the SLA
   histogram, AA1-AA4 of agent activity (AA4 by POST); answers of ours and the peer must
   be equal.
4. freshness and memory of our server; the report (:mod:`bench.report`).

Exit status: 0 when the harness ran and every check held (speed targets are
reported, not asserted), 1 when an answer or an ingest count was wrong, 2 when the
harness itself failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from bench import report
from bench.data import FULL, QUICK, Dataset, Scale, prepare
from bench.floor import encode_time_s
from bench.load import run_wrk, wrk_path
from bench.servers import Process, keep_alive_args
from bench.stats import percentile
from bench.writes import BackgroundWrites, Writer, after_write, send

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
SENDERS = 4
WRITE_PERIOD_S = 0.1
"""Writes to the queried account during the second 32-client run: 10 batches a second."""
COLD_BUDGET_S = 10.0
"""Seconds of requests after a write per server, query and repetition (at least 3)."""
Q6_SKILLS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)
SLA_SKILLS = (1, 2, 3, 5, 8)
SLA_HISTOGRAM = (5, 10, 20, 30, 60, 120, 300, 600)
DUP_CHECKED = ("Q1", "Q3", "Q7", "QH3", "QH4", "QS1", "SLA2", "AA1", "AA4")
"""Queries whose answers the store loaded with duplicates must give byte for byte."""
QS2_SKILLS = (1, 3, 5, 6)
"""Skills 1, 3 and 5 of a small account (5 skills) and one it does not have."""
NO_AGENT = 999_999_999
"""An agent no account has, added to the agent lists (it must not be listed)."""


@dataclass(frozen=True)
class Mode:
    name: str
    scale: Scale
    reps: int
    latency_s: int
    """Shortest single-connection wrk run."""
    load_s: int
    """Shortest 32-connection wrk run."""
    max_s: int
    """Longest wrk run (slow queries get longer runs, up to this)."""
    fresh_samples: int
    cold_samples: int
    """Requests after a write, per query and repetition (fewer when slow)."""
    out: Path
    command: str


def _modes(quick: bool, out: Path | None, reps: int | None) -> Mode:
    if quick:
        target = out or Path(tempfile.gettempdir()) / "engactivity-bench-quick" / "benchmarks.md"
        return Mode("quick", QUICK, reps or 1, 1, 1, 3, 20, 10, target, "make bench-quick")
    out = out or ROOT / "docs" / "benchmarks.md"
    return Mode("full", FULL, reps or 3, 2, 3, 30, 300, 40, out, "make bench")


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    account: str
    params: str
    method: str = "engactivity"
    post: bool = False
    """Sent by POST, the parameters in a JSON object of strings (as the reference's
    example), instead of in the URL."""

    @property
    def path(self) -> str:
        path = f"/operations/api/account/{self.account}/{self.method}"
        return path if self.post else f"{path}?{self.params}&v=1"

    @property
    def body(self) -> bytes | None:
        if not self.post:
            return None
        return orjson.dumps(dict(urllib.parse.parse_qsl(f"{self.params}&v=1")))


def _ids(ids: tuple[int, ...] | list[int]) -> str:
    return ",".join(map(str, ids))


def queries(data: Dataset) -> list[Query]:
    large, small = data.large, data.small[0]
    skills = _ids(Q6_SKILLS)
    sla = f"skillIds={_ids(SLA_SKILLS)}&groupIds={_ids(data.sla_groups)}"
    sla += f"&histogram={_ids(SLA_HISTOGRAM)}&timeframe=1440"
    return [
        Query("Q1", "account totals, 24 h", large, "timeframe=1440"),
        Query("Q2", "account, 24 h by 5 min", large, "timeframe=1440&interval=5"),
        Query("Q3", "all skills, 60 min", large, "skillIds=all&timeframe=60"),
        Query("Q4", "all agents, 60 min by 15", large, "agentIds=all&timeframe=60&interval=15"),
        Query(
            "Q5",
            "all skills x all agents, 24 h by 60",
            large,
            "skillIds=all&agentIds=all&timeframe=1440&interval=60",
        ),
        Query(
            "Q6", "ten skills, 24 h by 30", large, f"skillIds={skills}&timeframe=1440&interval=30"
        ),
        Query(
            "Q7",
            "small account, skills x agents, 24 h by 60",
            small,
            "skillIds=all&agentIds=all&timeframe=1440&interval=60",
        ),
        Query("QH1", "all skills, 60 min", large, "skillIds=all&timeframe=60", "queuehealth"),
        Query("QH2", "account totals, 24 h", large, "timeframe=1440", "queuehealth"),
        Query(
            "QH3",
            "all skills, 24 h by 60",
            large,
            "skillIds=all&timeframe=1440&interval=60",
            "queuehealth",
        ),
        Query(
            "QH4",
            "small account, all skills, 24 h by 60",
            small,
            "skillIds=all&timeframe=1440&interval=60",
            "queuehealth",
        ),
        Query("QS1", "all skills, now", large, "skillIds=all", "queuestate"),
        Query(
            "QS2",
            "small account, four skills, now",
            small,
            f"skillIds={_ids(QS2_SKILLS)}",
            "queuestate",
        ),
        Query("SLA1", "default histogram, 24 h", large, "timeframe=1440", "sla"),
        Query("SLA2", "five skills, busiest groups, own histogram, 24 h", large, sla, "sla"),
        *agent_queries(data),
    ]


def agent_queries(data: Dataset) -> list[Query]:
    large = data.large
    some = _ids([*data.agent_list, NO_AGENT])
    many = _ids([*data.agent_long_list, NO_AGENT])
    return [
        Query(
            "AA1",
            "all agents, 24 h by 60",
            large,
            "agentIds=all&timeframe=1440&interval=60",
            "agentactivity",
        ),
        Query("AA2", "all agents, 60 min", large, "agentIds=all&timeframe=60", "agentactivity"),
        Query(
            "AA3",
            f"{len(data.agent_list)} agents, 4 h by 15",
            large,
            f"agentIds={some}&timeframe=240&interval=15",
            "agentactivity",
        ),
        Query(
            "AA4",
            f"{len(data.agent_long_list)} agents by POST, 24 h in one interval",
            large,
            f"timeframe=1440&agentIds={many}&interval=1440",
            "agentactivity",
            post=True,
        ),
    ]


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


class CheckFailed(Exception):
    pass


def fetch(
    base_url: str, path: str, body: bytes | None = None, timeout_s: float = 600
) -> tuple[int, bytes, float]:
    """GET ``path`` (POST ``body`` when given): status, body and seconds taken (on a new
    connection)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        started = time.perf_counter()
        send(conn, path, body)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - started
    finally:
        conn.close()


def first_difference(a: Any, b: Any, where: str = "$") -> str | None:
    """Where two parsed JSON documents first differ (object key order is ignored)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            only_ours, only_peer = sorted(set(a) - set(b))[:5], sorted(set(b) - set(a))[:5]
            return f"{where}: keys only in ours {only_ours}, only in peer {only_peer}"
        for key in a:
            found = first_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items in ours, {len(b)} in peer"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    if _number(a) and _number(b):
        # Doubles are compared as numbers (QUEUE.md: 0, 0.0 and 1 are fine).
        return None if a == b else f"{where}: ours {a!r}, peer {b!r}"
    return None if a == b and type(a) is type(b) else f"{where}: ours {a!r}, peer {b!r}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- phases ------------------------------------------------------------------------------


def start_ours(
    name: str, run_dir: Path, now_ms: int, sync: str = "full", db_name: str | None = None
) -> Process:
    """Our server, on a fresh store ``<name>.db`` with its clock pinned at ``now_ms``; or
    with ``db_name``, on that store as it is, its clock running from ``now_ms``."""
    db = run_dir / f"{db_name or name}.db"
    clock = "ENGACTIVITY_FAKE_START_MS" if db_name else "ENGACTIVITY_FAKE_NOW_MS"
    for suffix in ("", "-wal", "-shm") if db_name is None else ():
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    args = ["-m", "engactivity", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    args += ["--store", f"sqlite:///{db}", "--sync", sync, "--log-level", "warning"]
    env = {clock: str(now_ms)}
    return Process(f"engactivity ({name})", args, run_dir / f"{name}.log", env).start()


def clock_running(run_dir: Path, data: Dataset, qs: list[Query], mode: Mode) -> dict[str, Any]:
    """Agent activity measures the exact window up to now: at a pinned moment its
    answers are cached, while in life every request is of another millisecond. So
    its queries are also timed (one client) on the same store with the clock running,
    once the restarted server has swept its event ids: back to back, and right after
    the benchmark's write (whose agent state, dated at the data's now, then falls
    inside every window: its agent is measured again, as in life)."""
    server = start_ours("moving", run_dir, data.now_ms, db_name="ours")
    try:
        server.wait_idle(limit_s=600)
        writer = Writer(server, data.now_ms, first=10**9)  # after the pinned run's writes
        out: dict[str, Any] = {}
        for q in (q for q in qs if q.method == "agentactivity"):
            probe = fetch(server.base_url, q.path, q.body)[2]
            seconds = duration(probe, 20, mode.latency_s, mode.max_s)
            timeout = int(min(120, max(10, 40 * probe)))
            result = run_wrk(server.base_url + q.path, 1, seconds, timeout, q.body)
            target = {"ours": (server.port, q.path)}
            aw = after_write(writer, q.account, target, q.body, mode.cold_samples, COLD_BUDGET_S)
            out[q.name] = result.as_json() | {"after_write": aw["ours"]}
            log(
                f"{q.name} with the clock running: p50 {result.p50_ms:.2f} ms, "
                f"after a write {aw['ours']['p50_ms']:.2f} ms"
            )
        writer.close()
        return out
    finally:
        server.stop()


def ingest(server: Process, data: Dataset, dup: bool) -> dict[str, Any]:
    result = send_batches(server, *data.batch_files(dup))
    expected_dups = data.dup_duplicates if dup else 0
    problems = []
    if result["accepted"] != data.events:
        problems.append(f"accepted {result['accepted']}, expected {data.events}")
    if result["duplicates"] != expected_dups:
        problems.append(f"duplicates {result['duplicates']}, expected {expected_dups}")
    if result["expired"]:
        problems.append(f"expired {result['expired']}, expected 0")
    result["problems"] = problems
    return result


def send_batches(
    server: Process, bodies: Path, accounts: Path, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Send the batches of ``bodies`` (:mod:`bench.ingest`, ``extra`` its further
    arguments) to ``server``: its answers' sums, events/s and the server's CPU time."""
    cmd = [sys.executable, "-m", "bench.ingest", server.base_url, str(bodies), str(accounts)]
    cmd += ["--senders", str(SENDERS), *extra]
    sender = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert sender.stdin is not None and sender.stdout is not None
    if sender.stdout.readline().strip() != "ready":
        raise RuntimeError("the ingest sender did not start")
    cpu_before = server.cpu_s()
    sender.stdin.write("go\n")
    sender.stdin.flush()
    line = sender.stdout.readline()
    cpu_after = server.cpu_s()
    sender.wait(60)
    if not line:
        raise RuntimeError("the ingest sender died")
    result: dict[str, Any] = json.loads(line)
    if result["failures"]:
        raise RuntimeError(f"ingest failed: {result['failures'][:3]}\n{server.tail()}")
    cpu = cpu_after - cpu_before
    result["events_per_s"] = result["sent"] / result["seconds"]
    result["new_events_per_s"] = result["accepted"] / result["seconds"]
    result["server_cpu_s"] = cpu
    result["cpu_s_per_million"] = cpu / result["sent"] * 1e6
    return result


def db_bytes(run_dir: Path, name: str) -> int:
    return sum(p.stat().st_size for p in run_dir.glob(f"{name}.db*"))


def freshness(server: Process, account: str, now_ms: int, samples: int) -> dict[str, Any]:
    """Seconds from the 200 of a one-event batch to a query that shows the event."""
    post = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    get = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    delays: list[float] = []
    polls: list[int] = []
    missed = 0
    for i in range(samples):
        agent = 9_000_000_000 + i
        event = {
            "eventId": f"bench-freshness-{i}",
            "type": "connected",
            "time": now_ms - 1000,
            "skillId": 1,
            "agentId": agent,
        }
        post.request("POST", f"/api/v1/accounts/{account}/events", orjson.dumps([event]), headers)
        response = post.getresponse()
        raw = response.read()
        if response.status != 200:
            raise RuntimeError(f"freshness ingest: HTTP {response.status} {raw[:300]!r}")
        acked = time.perf_counter()
        path = f"/operations/api/account/{account}/engactivity?agentIds={agent}&timeframe=5&v=1"
        count = 0
        while True:
            get.request("GET", path)
            answer = get.getresponse().read()
            count += 1
            seen = str(agent) in orjson.loads(answer)["agentsMetrics"]["metricsPerAgent"]
            waited = time.perf_counter() - acked
            if seen or waited > 10:
                break
        missed += not seen
        delays.append(waited)
        polls.append(count)
        time.sleep(0.005)
    post.close()
    get.close()
    return {
        "samples": samples,
        "p50_ms": 1000 * percentile(delays, 50),
        "p99_ms": 1000 * percentile(delays, 99),
        "max_ms": 1000 * max(delays),
        "first_poll_share": sum(1 for c in polls if c == 1) / len(polls),
        "missed": missed,
    }


def duration(latency_s: float, factor: float, low: int, high: int) -> int:
    return int(min(high, max(low, math.ceil(latency_s * factor))))


def measure(mode: Mode, data: Dataset, run_dir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"failures": [], "warnings": []}
    problems: list[str] = results["failures"]
    warnings: list[str] = results["warnings"]
    procs: list[Process] = []
    try:
        # -- ingest, clean --------------------------------------------------------------
        ours = start_ours("ours", run_dir, data.now_ms)
        procs.append(ours)
        log(f"ingest: {data.events} events in {data.batches} batches, {SENDERS} senders ...")
        clean = ingest(ours, data, dup=False)
        clean["memory_after"] = ours.memory()
        clean["db_bytes"] = db_bytes(run_dir, "ours")
        log(
            f"ingest: {clean['events_per_s']:,.0f} events/s, "
            f"{clean['cpu_s_per_million']:.1f} CPU s per million events"
        )
        problems += [f"ingest: {p}" for p in clean["problems"]]
        results["ingest"] = clean
        # -- ingest, 10% duplicates, on a second fresh server ---------------------------
        second = start_ours("dup", run_dir, data.now_ms)
        procs.append(second)
        log(f"ingest with duplicates: {data.dup_sent} events in {data.dup_batches} batches ...")
        dup = ingest(second, data, dup=True)
        log(
            f"ingest with duplicates: {dup['events_per_s']:,.0f} events/s, "
            f"{dup['cpu_s_per_million']:.1f} CPU s per million events"
        )
        problems += [f"ingest with duplicates: {p}" for p in dup["problems"]]
        qs = queries(data)
        for q in qs:
            if q.name not in DUP_CHECKED:
                continue
            a, b = fetch(ours.base_url, q.path, q.body), fetch(second.base_url, q.path, q.body)
            if a[1] != b[1]:
                problems.append(f"{q.name}: the store loaded with duplicates answers differently")
        second.stop()
        for path in run_dir.glob("dup.db*"):
            path.unlink()
        results["ingest_dup"] = dup

        # -- the peer, probes, answers compared -----------------------------------------
        peer_args = ["-m", "bench.peer", "--db", str(data.peer_db), "--port", "{port}"]
        peer_args += ["--now-ms", str(data.now_ms), *keep_alive_args()]
        peer = Process("peer", peer_args, run_dir / "peer.log").start()
        procs.append(peer)
        bodies_dir = run_dir / "bodies"
        bodies_dir.mkdir(exist_ok=True)
        probes: dict[str, dict[str, Any]] = {}
        for q in qs:
            status, body, ours_s = fetch(ours.base_url, q.path, q.body)
            if status != 200:
                raise RuntimeError(f"{q.name}: ours answered {status}: {body[:300]!r}")
            ours_s = min(ours_s, fetch(ours.base_url, q.path, q.body)[2])
            peer_status, peer_body, peer_s = fetch(peer.base_url, q.path, q.body)
            if peer_status != 200:
                raise RuntimeError(
                    f"{q.name}: the peer answered {peer_status}: {peer_body[:300]!r}"
                )
            ours_doc, peer_doc = orjson.loads(body), orjson.loads(peer_body)
            diff = first_difference(ours_doc, peer_doc)
            if diff:
                problems.append(f"{q.name}: answers differ from the peer's at {diff}")
                (run_dir / f"{q.name}.ours.json").write_bytes(body)
                (run_dir / f"{q.name}.peer.json").write_bytes(peer_body)
            (bodies_dir / f"{q.name}.json").write_bytes(body)
            encode_s = encode_time_s(ours_doc)
            probes[q.name] = {
                "bytes": len(body),
                "peer_bytes": len(peer_body),
                "equal": diff is None,
                "ours_probe_s": ours_s,
                "peer_probe_s": peer_s,
                "encode_ms": 1000 * encode_s,
            }
            log(
                f"{q.name}: {len(body):,} bytes, ours {1000 * ours_s:.1f} ms, "
                f"peer {1000 * peer_s:.1f} ms, "
                + ("answers equal" if diff is None else f"ANSWERS DIFFER at {diff}")
            )
        results["probes"] = probes
        floor_args = ["-m", "bench.floor", "--bodies", str(bodies_dir), "--port", "{port}"]
        floor = Process("floor", [*floor_args, *keep_alive_args()], run_dir / "floor.log").start()
        procs.append(floor)

        # -- wrk runs ---------------------------------------------------------------------
        runs: dict[str, list[dict[str, Any]]] = {q.name: [] for q in qs}
        writer = Writer(ours, data.now_ms)
        for rep in range(mode.reps):
            for q in qs:
                probe = probes[q.name]
                one = duration(probe["ours_probe_s"], 20, mode.latency_s, mode.max_s)
                many = duration(probe["ours_probe_s"], 48, mode.load_s, mode.max_s)
                peer_one = duration(probe["peer_probe_s"], 10, mode.latency_s, mode.max_s)
                timeout = int(min(120, max(10, 40 * probe["ours_probe_s"])))
                peer_timeout = int(min(120, max(10, 5 * probe["peer_probe_s"])))
                ours1 = run_wrk(ours.base_url + q.path, 1, one, timeout, q.body)
                peer1 = run_wrk(peer.base_url + q.path, 1, peer_one, peer_timeout, q.body)
                floor1 = run_wrk(f"{floor.base_url}/floor/{q.name}", 1, one, timeout, q.body)
                ours32 = run_wrk(ours.base_url + q.path, 32, many, timeout, q.body)
                ours.wait_idle()
                targets = {
                    "ours": (ours.port, q.path),
                    "floor": (floor.port, f"/floor/{q.name}"),
                    "peer": (peer.port, q.path),
                }
                aw = after_write(
                    writer, q.account, targets, q.body, mode.cold_samples, COLD_BUDGET_S
                )
                cold, cold_floor_ms = aw["ours"], aw["floor"]["p50_ms"] + probe["encode_ms"]
                with BackgroundWrites(writer, q.account, WRITE_PERIOD_S):
                    live32 = run_wrk(ours.base_url + q.path, 32, many, timeout, q.body)
                ours.wait_idle()
                floor_ms = floor1.p50_ms + probe["encode_ms"]
                entry = {
                    "ours1": ours1.as_json(),
                    "peer1": peer1.as_json(),
                    "floor1": floor1.as_json(),
                    "ours32": ours32.as_json(),
                    "live32": live32.as_json(),
                    "cold": cold,
                    "cold_floor": aw["floor"],
                    "cold_peer": aw["peer"],
                    "floor_ms": floor_ms,
                    "cold_floor_ms": cold_floor_ms,
                    "naive_over_ours": peer1.p50_ms / ours1.p50_ms if ours1.p50_ms else None,
                    "ours_over_floor": ours1.p50_ms / floor_ms if floor_ms else None,
                    "naive_over_cold": aw["peer"]["p50_ms"] / cold["p50_ms"],
                    "cold_over_floor": cold["p50_ms"] / cold_floor_ms,
                    "cold_over_repeated_floor": cold["p50_ms"] / floor_ms if floor_ms else None,
                }
                runs[q.name].append(entry)
                for label, r in (
                    ("ours 1c", ours1),
                    ("peer 1c", peer1),
                    ("floor 1c", floor1),
                    ("ours 32c", ours32),
                    ("ours 32c with writes", live32),
                ):
                    if not r.ok:
                        warnings.append(
                            f"{q.name} rep {rep + 1} {label}: {r.requests} requests, "
                            f"{r.non_2xx} non-2xx, {r.socket_errors} socket errors "
                            f"({r.timeouts} timeouts)"
                        )
                log(
                    f"rep {rep + 1}/{mode.reps} {q.name}: ours p50 {ours1.p50_ms:.2f} ms "
                    f"p99 {ours1.p99_ms:.2f} ms, {ours32.rps:,.0f} req/s @32; "
                    f"peer p50 {peer1.p50_ms:.2f} ms; floor {floor_ms:.2f} ms; "
                    f"after a write p50 {cold['p50_ms']:.2f} ms (floor {cold_floor_ms:.2f}, "
                    f"peer {aw['peer']['p50_ms']:.2f}), with writes "
                    f"{live32.rps:,.0f} req/s @32"
                )
        results["runs"] = runs
        writer.close()
        # The writes fell outside every span: the answers must not have moved.
        for q in qs:
            status, body, _ = fetch(ours.base_url, q.path, q.body)
            if body != (bodies_dir / f"{q.name}.json").read_bytes():
                problems.append(f"{q.name}: answers differ before and after the measurements")
        results["memory_after_queries"] = ours.memory()

        # -- freshness, memory ------------------------------------------------------------
        log(f"freshness: {mode.fresh_samples} samples ...")
        results["freshness"] = freshness(ours, data.large, data.now_ms, mode.fresh_samples)
        results["memory"] = ours.memory()
        if not ours.alive():
            raise RuntimeError(f"our server died:\n{ours.tail()}")
        ours.stop()
        results["clock_running"] = clock_running(run_dir, data, qs, mode)
        return results
    finally:
        for proc in reversed(procs):
            proc.stop()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    wrk_version = subprocess.run(
        [wrk_path(), "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_kb / 1024**2,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "sqlite": sqlite3.sqlite_version,
        "duckdb": duckdb.__version__,
        "wrk": wrk_version[0].split(" [")[0] if wrk_version else "?",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/100 scale, short runs")
    parser.add_argument("--out", type=Path, help="report path (.md; the chart goes beside it)")
    parser.add_argument("--reps", type=int, help="repetitions of each wrk measurement")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    args = parser.parse_args(argv)
    # Stopping the harness (kill PID) still stops the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mode = _modes(args.quick, args.out, args.reps)
    run_dir = CACHE / f"run-{mode.name}-{os.getpid()}"
    started = time.monotonic()
    load_at_start = os.getloadavg()
    try:
        wrk_path()
        CACHE.mkdir(parents=True, exist_ok=True)
        data = prepare(mode.scale, CACHE, log)
        run_dir.mkdir(parents=True)
        results = measure(mode, data, run_dir)
    except Exception:
        traceback.print_exc()
        log(f"the harness failed; logs are in {run_dir}")
        return 2
    results["mode"] = mode.name
    results["command"] = mode.command
    results["argv"] = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    results["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["seconds"] = time.monotonic() - started
    results["machine"] = machine()
    results["machine"]["loadavg"] = [load_at_start[0], os.getloadavg()[0]]
    results["reps"] = mode.reps
    results["data"] = {
        "now_ms": data.now_ms,
        "events": data.events,
        "events_large": data.events_large,
        "large": data.large,
        "small_accounts": len(data.small),
        "scale": mode.scale.__dict__,
        "dup_sent": data.dup_sent,
        "dup_duplicates": data.dup_duplicates,
        "types": data.types,
        "types_large": data.types_large,
        "sla_groups": data.sla_groups,
        "sim_options": data.sim_options,
    }
    results["queries"] = [q.__dict__ for q in queries(data)]
    results["dup_checked"] = list(DUP_CHECKED)
    mode.out.parent.mkdir(parents=True, exist_ok=True)
    (CACHE / f"results-{mode.name}.json").write_text(json.dumps(results, indent=1))
    report.write(results, mode.out)
    log(f"report: {mode.out} (chart {mode.out.with_suffix('.png')})")
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    for warning in results["warnings"]:
        log(f"warning: {warning}")
    for failure in results["failures"]:
        log(f"FAILED: {failure}")
    if results["failures"]:
        log(f"{len(results['failures'])} checks failed")
        return 1
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0
