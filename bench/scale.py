"""``python -m bench.scale [--quick]``: the service at many times the standard day, on PostgreSQL.

The data are copies of the standard day (:mod:`bench.data`) on other accounts
(:mod:`bench.copies`): copy ``k`` re-sends every batch of the day for account
``k * 10**8 + a``. Steps add copies until the last step holds ``steps[-1]`` of them;
at each step:

1. ingest: the new copies' batches, interleaved (every copy's accounts at once), through
   the write API of one server (``serve --workers 1``) into a fresh PostgreSQL database;
   events/s, the server's CPU, and every count exact (nothing duplicated or expired);
2. cold answers: every new account's first query (Q1, account totals over 24 h) on
   each server; an account is loaded from the store on first use, so these are the
   cold latencies (large and small accounts apart), and each answer must equal the
   day's own account's (copy 0), byte for byte;
3. warm answers: a few shapes of query, repeated by one client (wrk), on the newest
   copy's large account and one small account;
4. the resident memory (VmRSS) of every server process, and its ``/metrics`` gauges of
   accounts and memory.

Two servers answer, on the same database: "no cap", and "cap" started with
``--memory-mb`` (:data:`ScaleMode.cap_mb`). The capped one is skipped, and said so,
when ``engactivity serve`` has no ``--memory-mb``. Without a cap, a process keeps
every account it has answered for, so after step 2 it holds them all.

Results: a JSON file, a chart and the section "At scale" of the report (the rest of
the file is kept), written again after each step, so that a run stopped during a long
step (20 copies take hours on 2 cores) keeps the steps it finished, and says so.
Exit status as ``python -m bench``: 0 all checks held, 1 a check failed, 2 the
harness failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import psutil  # type: ignore[import-untyped]
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from bench import scale_report
from bench.copies import copy_account
from bench.data import FULL, QUICK, Dataset, Scale, prepare
from bench.load import run_wrk
from bench.run import (
    CACHE,
    ROOT,
    Query,
    first_difference,
    log,
    machine,
    queries,
    send_batches,
)
from bench.run import fetch as fetch_url
from bench.servers import Process
from bench.stats import percentile

ADMIN_URL = os.environ.get(
    "ENGACTIVITY_BENCH_PG_URL",
    os.environ.get(
        "ENGACTIVITY_TEST_PG_URL",
        "postgresql://engactivity:engactivity@127.0.0.1:5432/engactivity_test",
    ),
)
"""A PostgreSQL database whose role may create databases (scripts/start-test-postgres)."""
WARM_SHAPES = ("Q1", "Q3", "QH1", "AA2")
"""Shapes of the main benchmark (:func:`bench.run.queries`) timed warm at each step."""
COLD_SHAPE = "Q1"
METRIC_WORDS = ("account", "memory", "evict", "load", "resident")
"""The server's own /metrics families (``engactivity_...``) whose name holds one of these
are recorded at each step."""


@dataclass(frozen=True)
class ScaleMode:
    name: str
    day: Scale
    """The standard day that each copy repeats."""
    steps: tuple[int, ...]
    """Copies loaded by the end of each step."""
    cap_mb: int
    """``--memory-mb`` of the capped server."""
    warm_s: int
    """wrk seconds per warm shape, account and server."""
    progress_s: float
    """How often an ingest logs its progress."""
    out: Path
    command: str


def mode_of(quick: bool, out: Path | None, steps: tuple[int, ...] | None) -> ScaleMode:
    """Quick: up to 4 copies of the 1/100 day, about a minute. Full: up to 3 copies of the
    standard day, 19 million events, about 15-20 minutes at PostgreSQL's ~20,000 events/s
    on 2 cores; the issue's 20 copies (``--steps 1,5,10,20``) take about 2 hours there.
    The capped server's cap is below the data from the first step on."""
    if quick:
        target = out or Path(tempfile.gettempdir()) / "engactivity-bench-scale" / "benchmarks.md"
        return ScaleMode(
            "quick", QUICK, steps or (1, 2, 4), 2, 1, 0.5, target, "make bench-scale-quick"
        )
    target = out or ROOT / "docs" / "benchmarks.md"
    return ScaleMode("full", FULL, steps or (1, 2, 3), 512, 2, 60, target, "make bench-scale")


# -- the servers -----------------------------------------------------------------------------


def memory_flag() -> bool:
    """Whether ``engactivity serve`` has ``--memory-mb`` (the capped variant needs it)."""
    done = subprocess.run(
        [sys.executable, "-m", "engactivity", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "--memory-mb" in done.stdout


def no_cap_mb() -> int:
    """A cap that never binds: the machine's memory (used when the flag exists)."""
    return int(psutil.virtual_memory().total // 2**20)


def start_server(
    name: str, store: str, now_ms: int, run_dir: Path, cap_mb: int | None, src: str | None = None
) -> Process:
    """``serve --workers 1`` on ``store``, clock pinned at ``now_ms``; with ``src``, that
    checkout's code (first on ``PYTHONPATH``)."""
    args = ["-m", "engactivity", "serve", "--host", "127.0.0.1", "--port", "{port}"]
    args += ["--store", store, "--workers", "1", "--log-level", "warning"]
    if cap_mb is not None:
        args += ["--memory-mb", str(cap_mb)]
    env = {"ENGACTIVITY_FAKE_NOW_MS": str(now_ms)}
    if src is not None:
        env["PYTHONPATH"] = src
    return Process(f"engactivity ({name})", args, run_dir / f"{name}.log", env).start()


def resident(server: Process) -> list[dict[str, Any]]:
    """VmRSS and VmHWM of the server and of every process it started, in bytes."""
    root = psutil.Process(server.pid)
    out = []
    for proc in [root, *root.children(recursive=True)]:
        entry: dict[str, Any] = {"pid": proc.pid}
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                entry[key] = int(value.split()[0]) * 1024
        out.append(entry)
    return out


def gauges(server: Process) -> dict[str, float]:
    """The server's /metrics samples about accounts and memory (name{labels}: value)."""
    status, body, _ = fetch(server, "/metrics")
    if status != 200:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        ours = family.name.startswith("engactivity")
        if not ours or not any(word in family.name for word in METRIC_WORDS):
            continue
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def fetch(server: Process, path: str) -> tuple[int, bytes, float]:
    return fetch_url(server.base_url, path)


def accepted_events(server: Process) -> float:
    """The events the server accepted since it started (its /metrics)."""
    status, body, _ = fetch(server, "/metrics")
    families = text_string_to_metric_families(body.decode()) if status == 200 else []
    for family in families:
        if family.name == "engactivity_events":
            for sample in family.samples:
                if sample.labels.get("outcome") == "accepted":
                    return float(sample.value)
    return 0.0


class IngestProgress:
    """Logs, every ``every_s`` while an ingest runs, the events the server accepted
    since it began and their rate: a step of many copies takes most of an hour, and a
    stall should show at once."""

    def __init__(self, server: Process, expected: int, every_s: float = 60.0) -> None:
        self.server, self.expected, self.every_s = server, expected, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        base, started = accepted_events(self.server), time.monotonic()
        while not self.stop.wait(self.every_s):
            try:
                done = accepted_events(self.server) - base
            except OSError as exc:
                log(f"  progress: /metrics did not answer ({exc})")
                continue
            rate = done / (time.monotonic() - started)
            log(f"  {done:,.0f} of {self.expected:,} events accepted, {rate:,.0f}/s")

    def __enter__(self) -> IngestProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


# -- the database ----------------------------------------------------------------------------


class Database:
    """A fresh database for the run (created under :data:`ADMIN_URL`, dropped at the end),
    or the one given, used as it is."""

    def __init__(self, given: str | None) -> None:
        self.created: str | None = None
        if given:
            self.url = given
            return
        self.created = f"bench_scale_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {self.created}")
        self.url = urlsplit(ADMIN_URL)._replace(path=f"/{self.created}").geturl()

    def size(self) -> int:
        with psycopg.connect(self.url, connect_timeout=10) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def drop(self) -> None:
        if not self.created:
            return
        # FORCE may not end an autovacuum worker still busy on the fresh data (it is
        # the superuser's): PostgreSQL then refuses, so wait for it a while.
        for attempt in range(30):
            try:
                with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {self.created} WITH (FORCE)")
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                if attempt == 29:
                    raise
                time.sleep(2)


# -- one step --------------------------------------------------------------------------------


def shapes(data: Dataset, copy: int) -> list[Query]:
    """The warm shapes on the large account and the first small one of copy ``copy``."""
    out = []
    for q in queries(data):
        if q.name not in WARM_SHAPES:
            continue
        for account, kind in ((data.large, "large"), (data.small[0], "small")):
            out.append(
                Query(f"{q.name} {kind}", q.title, copy_account(account, copy), q.params, q.method)
            )
    return out


def cold_query(data: Dataset, account: str) -> Query:
    q = next(q for q in queries(data) if q.name == COLD_SHAPE)
    return Query(q.name, q.title, account, q.params, q.method)


def ingest_step(
    server: Process, data: Dataset, first: int, count: int, progress_s: float
) -> dict[str, Any]:
    bodies, accounts = data.batch_files(False)
    expected = data.events * count
    with IngestProgress(server, expected, progress_s):
        result = send_batches(server, bodies, accounts, ("--copies", f"{first}:{count}"))
    problems = []
    if result["accepted"] != expected:
        problems.append(f"accepted {result['accepted']}, expected {expected}")
    if result["duplicates"] or result["expired"]:
        problems.append(f"{result['duplicates']} duplicates, {result['expired']} expired")
    result["problems"] = problems
    return result


def cold_answers(
    server: Process, data: Dataset, copies: range, day: dict[str, bytes], problems: list[str]
) -> dict[str, Any]:
    """Each account's first query; ``day`` holds copy 0's answers (filled from copy 0)."""
    times: dict[str, list[float]] = {"large": [], "small": []}
    started = time.monotonic()
    for copy in copies:
        for account in [data.large, *data.small]:
            q = cold_query(data, copy_account(account, copy))
            status, body, seconds = fetch(server, q.path)
            if status != 200:
                raise RuntimeError(f"{server.name} {q.path}: HTTP {status} {body[:300]!r}")
            times["large" if account == data.large else "small"].append(seconds)
            expected = day.setdefault(account, body)
            if body != expected:
                diff = first_difference(orjson.loads(body), orjson.loads(expected))
                problems.append(f"{server.name}: copy {copy} of {account} differs at {diff}")
    out: dict[str, Any] = {"seconds": time.monotonic() - started}
    for kind, values in times.items():
        out[kind] = {
            "accounts": len(values),
            "p50_ms": 1000 * percentile(values, 50),
            "p99_ms": 1000 * percentile(values, 99),
            "max_ms": 1000 * max(values),
        }
    return out


def warm_answers(server: Process, data: Dataset, copy: int, seconds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in shapes(data, copy):
        # The first of a shape is made afresh (the account is in memory since its cold
        # answer, or loaded again if the cap evicted it); wrk's repeats are then served
        # from the answer cache, as a live account's are between two writes.
        status, body, first_s = fetch(server, q.path)
        if status != 200:
            raise RuntimeError(f"{server.name} {q.path}: HTTP {status} {body[:300]!r}")
        result = run_wrk(server.base_url + q.path, 1, seconds)
        if not result.ok:
            raise RuntimeError(f"{server.name} {q.name}: {result.non_2xx} non-2xx answers")
        out[q.name] = {
            "first_ms": 1000 * first_s,
            "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms,
            "rps": result.rps,
        }
    return out


def run_step(
    mode: ScaleMode,
    data: Dataset,
    servers: dict[str, Process],
    db: Database,
    copies: range,
    day: dict[str, bytes],
    problems: list[str],
) -> dict[str, Any]:
    writer = servers["no cap"]
    step: dict[str, Any] = {"copies": copies.stop, "accounts": copies.stop * (1 + len(data.small))}
    step["events"] = copies.stop * data.events
    log(f"step {copies.stop}: ingest of copies {copies.start}..{copies.stop - 1} ...")
    ingest = ingest_step(writer, data, copies.start, len(copies), mode.progress_s)
    problems += [f"step {copies.stop} ingest: {p}" for p in ingest.pop("problems")]
    step["ingest"] = ingest
    step["db_bytes"] = db.size()
    log(f"step {copies.stop}: {ingest['events_per_s']:,.0f} events/s, db {step['db_bytes']:,} B")
    step["servers"] = {}
    for name, server in servers.items():
        entry: dict[str, Any] = {"rss_after_ingest": resident(server)}
        entry["cold"] = cold_answers(server, data, copies, day, problems)
        entry["rss_after_cold"] = resident(server)
        entry["warm"] = warm_answers(server, data, copies.stop - 1, mode.warm_s)
        entry["rss"] = resident(server)
        entry["metrics"] = gauges(server)
        if not server.alive():
            raise RuntimeError(f"{server.name} died:\n{server.tail()}")
        step["servers"][name] = entry
        log(
            f"step {copies.stop} {name}: cold p50 large {entry['cold']['large']['p50_ms']:.1f} ms "
            f"small {entry['cold']['small']['p50_ms']:.1f} ms; "
            f"RSS {sum(p['VmRSS'] for p in entry['rss']) / 2**20:,.0f} MiB"
        )
    return step


def measure(
    mode: ScaleMode,
    data: Dataset,
    store: str | None,
    run_dir: Path,
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """The steps' figures; ``save`` is given them after each step (a run stopped in a
    long step keeps the steps it finished)."""
    results: dict[str, Any] = {"failures": [], "skipped": [], "steps": []}
    capped = memory_flag()
    if not capped:
        results["skipped"].append(
            "cap: `engactivity serve` has no --memory-mb yet, so the capped variant did not run"
        )
    db = Database(store)
    servers: dict[str, Process] = {}
    try:
        servers["no cap"] = start_server(
            "nocap", db.url, data.now_ms, run_dir, no_cap_mb() if capped else None
        )
        if capped:
            servers["cap"] = start_server("cap", db.url, data.now_ms, run_dir, mode.cap_mb)
        day: dict[str, bytes] = {}
        loaded = 0
        for target in mode.steps:
            step = run_step(
                mode, data, servers, db, range(loaded, target), day, results["failures"]
            )
            results["steps"].append(step)
            save(results)
            loaded = target
        return results
    finally:
        for server in servers.values():
            server.stop()
        db.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="copies of the 1/100 day")
    parser.add_argument("--steps", help="copies by the end of each step, e.g. 1,5,10,20")
    parser.add_argument("--out", type=Path, help="report (.md) whose 'At scale' section is written")
    parser.add_argument("--store", help="an empty PostgreSQL database (default: a new one)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else None
    if steps is not None and (list(steps) != sorted(set(steps)) or steps[0] < 1):
        parser.error("--steps: increasing whole numbers from 1, e.g. 1,5,10,20")
    mode = mode_of(args.quick, args.out, steps)
    run_dir = CACHE / f"scale-{mode.name}-{os.getpid()}"
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    json_path = mode.out.with_name("benchmarks-scale.json")

    def save(results: dict[str, Any]) -> None:
        results |= {
            "mode": mode.name,
            "command": mode.command,
            "argv": " ".join(
                ["python -m bench.scale", *(argv if argv is not None else sys.argv[1:])]
            ),
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": time.monotonic() - started,
            "machine": machine() | {"loadavg": [load_at_start, os.getloadavg()[0]]},
            "cap_mb": mode.cap_mb,
            "warm_s": mode.warm_s,
            "steps_planned": list(mode.steps),
            "day": {
                "events": data.events,
                "accounts": 1 + len(data.small),
                "scale": asdict(data.scale),
            },
            "warm_shapes": [
                {"name": q.name, "title": q.title, "params": q.params, "method": q.method}
                for q in queries(data)
                if q.name in WARM_SHAPES
            ],
        }
        mode.out.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=1))
        scale_report.write(results, mode.out)

    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        data = prepare(mode.day, CACHE, log)
        run_dir.mkdir(parents=True)
        results = measure(mode, data, args.store, run_dir, save)
    except Exception:
        traceback.print_exc()
        log(f"the harness failed; logs are in {run_dir}")
        return 2
    save(results)
    log(f"report: {mode.out} (section 'At scale'), {json_path}")
    for skipped in results["skipped"]:
        log(f"skipped: {skipped}")
    for failure in results["failures"]:
        log(f"FAILED: {failure}")
    log(f"done in {time.monotonic() - started:.0f} s")
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
