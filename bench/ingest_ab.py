"""Ingest rate A/B: the same batches, the same senders, against several servers in one run.

``python -m bench.ingest_ab --pg postgresql://.../db --workers 1 2 --sqlite
--base /path/to/other/checkout/src`` sends the batches of ``bench.postgres`` (EVENTS
events in batches of BATCH over ACCOUNTS accounts, a tenth of the batches delivered
twice) from SENDERS connections to ``engactivity serve`` on a fresh database per run:
PostgreSQL with each number of workers, then SQLite with one. With ``--base``, each
run is done first with that source tree (``PYTHONPATH``), then with this one, so a
change is compared with what it replaces on the same, shared machine. Each run
checks the totals; one JSON line per run, then a summary: the best rate of each
configuration over ``--repeat`` rounds, and the ratios to the base. ``--profile DIR``
samples each server with py-spy while it ingests (``pip install py-spy``; not a
dependency of the project) and writes the stacks (py-spy's raw format) there.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import psutil  # type: ignore[import-untyped]
import psycopg
import psycopg.errors

from bench.ingest import send_all
from bench.postgres import _batches


@dataclass
class Run:
    label: str
    engine: str
    workers: int
    src: str | None
    """Another source tree to run the server from (the A of an A/B)."""


def _fresh_pg(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def _drop_pg(admin_url: str, name: str) -> None:
    # An autovacuum worker may still be in it for a moment (and is not ours to end).
    for _ in range(20):
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(0.5)
    print(f"could not drop database {name}: still in use", file=sys.stderr)


def _start(store: str, run: Run, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "engactivity", "serve", "--port", str(port)]
    command += ["--store", store, "--workers", str(run.workers), "--log-level", "warning"]
    env = dict(os.environ)
    if run.src:
        env["PYTHONPATH"] = run.src
    server = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"the server did not start: see {log}")
        time.sleep(0.1)


def _cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (the workers)."""
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def _postgres_cpu_s() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process (the server is shared: a rough figure)."""
    seconds: dict[int, float] = {}
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres":
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            seconds[proc.pid] = times.user + times.system
    return seconds


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between the two readings (processes started meanwhile count whole)."""
    return sum(s - before.get(pid, 0.0) for pid, s in after.items())


def _profiler(into: str | None, run: Run, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server (every thread, idle ones too) while it ingests."""
    if into is None:
        return None
    out = Path(into) / (run.label.replace(" ", "_") + ".txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["py-spy", "record", "-p", str(pid), "--subprocesses", "--idle", "--threads"]
    command += ["--format", "raw", "-o", str(out), "--rate", "200"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached before the first batch
    return spy


def _one(
    run: Run, args: argparse.Namespace, bodies: list[bytes], names: list[str]
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="pgingest_ab_"))
    db_name = f"pgingest_ab_{os.getpid()}"
    sqlite = run.engine == "sqlite"
    store = f"sqlite:///{tmp}/ab.db" if sqlite else _fresh_pg(args.pg, db_name)
    server = _start(store, run, args.port, tmp / "server.log")
    try:
        cpu0, pg0 = _cpu_s(server.pid), _postgres_cpu_s()
        spy = _profiler(args.profile, run, server.pid)
        sent = send_all(f"http://127.0.0.1:{args.port}", bodies, names, args.senders)
        cpu1, pg1 = _cpu_s(server.pid), _postgres_cpu_s()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        if run.engine != "sqlite":
            _drop_pg(args.pg, db_name)
    if sent["failures"] or sent["accepted"] != args.events:
        raise SystemExit(f"{run.label}: wrong totals {sent}")
    seconds = float(sent["seconds"])  # type: ignore[arg-type]
    return {
        "run": run.label,
        "events_per_s": round(len(bodies) * args.batch / seconds),
        "seconds": round(seconds, 2),
        "accepted": sent["accepted"],
        "duplicates": sent["duplicates"],
        "batch_p50_ms": round(float(sent["batch_p50_ms"]), 1),  # type: ignore[arg-type]
        "retries": sent["retries"],
        "server_cpu_s": round(cpu1 - cpu0, 1),
        "postgres_cpu_s": round(_used(pg0, pg1), 1) if run.engine != "sqlite" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", required=True, help="a PostgreSQL URL whose role may CREATEDB")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--sqlite", action="store_true", help="also run SQLite (1 worker)")
    parser.add_argument("--base", help="the src/ of another checkout, run first (A)")
    parser.add_argument("--port", type=int, default=22100)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", help="a folder for py-spy's samples of each run (raw)")
    args = parser.parse_args()
    runs: list[Run] = []
    for workers in args.workers:
        if args.base:
            runs.append(Run(f"base postgresql x{workers}", "postgresql", workers, args.base))
        runs.append(Run(f"postgresql x{workers}", "postgresql", workers, None))
    if args.sqlite:
        if args.base:
            runs.append(Run("base sqlite x1", "sqlite", 1, args.base))
        runs.append(Run("sqlite x1", "sqlite", 1, None))
    bodies, names = _batches(args.events, args.batch, args.accounts)
    results: dict[str, list[int]] = {}
    for _ in range(args.repeat):
        for run in runs:
            result = _one(run, args, bodies, names)
            print(orjson.dumps(result).decode(), flush=True)
            results.setdefault(run.label, []).append(int(result["events_per_s"]))  # type: ignore[call-overload]
    best = {label: max(rates) for label, rates in results.items()}
    summary: dict[str, object] = {"best_events_per_s": best}
    if args.base:
        summary["ratio_vs_base"] = {
            label: round(best[label] / best[f"base {label}"], 2)
            for label in best
            if f"base {label}" in best
        }
    print(orjson.dumps({"summary": summary}).decode(), flush=True)


if __name__ == "__main__":
    main()
