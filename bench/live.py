"""``python -m bench.live [--quick]``: a contact center at its peak, live.

1. The standard day (:mod:`bench.data`) ingested into our server (SQLite), which then runs
   on that store with its clock running from the day's now.
2. For ``--seconds`` (full 180, quick 20), (:mod:`bench.live_clients`): producers
   replaying the day's busiest minute (all accounts, its own rate and burstiness, new
   ids, dated at the server's now); a marker batch a second; 100 pollers on the large
   account, each asking one of the benchmark's questions every 5 s (staggered); 100
   subscribers to the same rotation of questions over Server-Sent Events. The writers
   run in this process, the wallboards in ``WALLBOARD_PROCESSES`` others.
3. The naive peer (:mod:`bench.peer`), which has no ingest path, and the floor
   (:mod:`bench.floor`) under the same 100 pollers on the static day, one after the other
   (``--static-seconds`` each), so that neither takes CPU from ours while it is measured.
4. A JSON file and the section "Live: a contact center at its peak" at the top of the
   report (:mod:`bench.sections`; ``make bench`` keeps it).

Exit status: 0 when the run held, 1 when a check failed (poll errors, markers no answer
showed), 2 when the harness itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import live_clients as lc
from bench.data import FULL, QUICK, Dataset, Scale, prepare
from bench.floor import encode_time_s
from bench.live_report import render, summarize
from bench.run import CACHE, ROOT, Query, fetch, ingest, log, machine, queries, start_ours
from bench.sections import LIVE
from bench.servers import Process, keep_alive_args

WALLBOARDS = 100
"""Pollers, and as many subscribers."""


@dataclass(frozen=True)
class Mode:
    name: str
    scale: Scale
    seconds: float
    static_seconds: float
    out: Path
    command: str


def _mode(args: argparse.Namespace) -> Mode:
    if args.quick:
        out = args.out or Path(tempfile.gettempdir()) / "engactivity-bench-live" / "benchmarks.md"
        return Mode(
            "quick",
            QUICK,
            args.seconds or 20,
            args.static_seconds or 10,
            out,
            "make bench-live-quick",
        )
    out = args.out or ROOT / "docs" / "benchmarks.md"
    return Mode(
        "full", FULL, args.seconds or 180, args.static_seconds or 60, out, "make bench-live"
    )


def peak_minute(data: Dataset) -> tuple[int, list[tuple[int, str, dict[str, Any]]]]:
    """The day's busiest minute over all accounts: its start (ms) and its events as
    (offset ms in the minute, account, event), in time order."""
    bodies, accounts = data.batch_files(False)
    counts: Counter[int] = Counter()
    with bodies.open("rb") as lines:
        for line in lines:
            counts.update(event["time"] // 60_000 for event in orjson.loads(line))
    minute = counts.most_common(1)[0][0]
    events: list[tuple[int, str, dict[str, Any]]] = []
    with bodies.open("rb") as lines, accounts.open() as names:
        for line, account in zip(lines, names, strict=True):
            for event in orjson.loads(line):
                if event["time"] // 60_000 == minute:
                    events.append((event["time"] - minute * 60_000, account.strip(), event))
    events.sort(key=lambda item: item[0])
    return minute * 60_000, events


def rotation(qs: list[Query]) -> list[Query]:
    """The question of each of the :data:`WALLBOARDS` (Q7, QH4 and QS2 ask of a small
    account; the other 16 of the 19 of the large one)."""
    return [qs[i % len(qs)] for i in range(WALLBOARDS)]


async def _live(
    ours: Process,
    data: Dataset,
    qs: list[Query],
    minute: list[Any],
    clock: lc.ServerClock,
    s: float,
) -> lc.Record:
    """The writers here, the wallboards in :data:`lc.WALLBOARD_PROCESSES` processes (each
    takes every n-th, so that each has a share of every question)."""
    rec = lc.Record()
    boards = list(enumerate(rotation(qs)))
    n = lc.WALLBOARD_PROCESSES
    # Time for the processes to start; the subscribers open their streams 2 s before
    # the pollers begin, as the writers do (so the first marker finds them subscribed).
    start = time.perf_counter() + 6.0
    until = start + s
    step = lc.POLL_PERIOD_S / WALLBOARDS
    parts = [lc.Boards(ours.base_url, boards[k::n], start, until, step) for k in range(n)]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        shares = [loop.run_in_executor(pool, lc.run_wallboards, part) for part in parts]
        async with httpx.AsyncClient(
            base_url=ours.base_url, timeout=60, limits=lc.limits(WALLBOARDS)
        ) as writes:
            await asyncio.sleep(max(0.0, start - 2.0 - time.perf_counter()))
            await asyncio.gather(
                # The last markers leave every poller a full period to see them.
                lc.markers(writes, data.large, clock, rec, until - lc.POLL_PERIOD_S - 2),
                lc.producer(writes, minute, clock, rec, until),
            )
        for share in await asyncio.gather(*shares):
            rec.merge(share)
    return rec


async def _static(
    base_url: str, qs: list[Query], s: float, floor_encode: dict[str, float] | None
) -> lc.Record:
    """The pollers alone; on the floor (``floor_encode`` given) each question's URL is
    its precomputed body, and its encoding time is added to each latency."""
    rec = lc.Record()
    start = time.perf_counter() + 0.5
    step = lc.POLL_PERIOD_S / WALLBOARDS
    async with httpx.AsyncClient(timeout=120, limits=lc.limits(WALLBOARDS)) as polls:
        await asyncio.gather(
            *(
                lc.poller(
                    polls,
                    base_url + (q.path if floor_encode is None else f"/floor/{q.name}"),
                    q,
                    f"poll{i}",
                    rec,
                    start + i * step,
                    start + s,
                    0.0 if floor_encode is None else floor_encode[q.name],
                )
                for i, q in enumerate(rotation(qs))
            )
        )
    return rec


def measure(mode: Mode, data: Dataset, run_dir: Path) -> dict[str, Any]:
    procs: list[Process] = []
    try:
        loader = start_ours("ours", run_dir, data.now_ms)
        procs.append(loader)
        log(f"ingest: {data.events} events ...")
        loaded = ingest(loader, data, dup=False)
        loader.stop()
        minute_ms, minute = peak_minute(data)
        log(f"the busiest minute: {len(minute)} events ({len(minute) / 60:.1f} events/s)")
        qs = queries(data)
        began = time.perf_counter()
        ours = start_ours("live", run_dir, data.now_ms, db_name="ours")
        procs.append(ours)
        clock = lc.ServerClock(data.now_ms, began)
        bodies, encode = _bodies(ours, qs, run_dir / "bodies")
        memory_start, cpu_start = ours.memory(), ours.cpu_s()
        client_cpu = time.process_time()
        log(f"live: {mode.seconds:.0f} s, {WALLBOARDS} pollers and {WALLBOARDS} subscribers ...")
        rec = asyncio.run(_live(ours, data, qs, minute, clock, mode.seconds))
        live = {
            "seconds": mode.seconds,
            "server_cpu_s": ours.cpu_s() - cpu_start,
            "client_cpu_s": time.process_time() - client_cpu + rec.cpu_s,
            "client_processes": 1 + lc.WALLBOARD_PROCESSES,
            "memory_start": memory_start,
            "memory_end": ours.memory(),
            "record": rec,
        }
        if not ours.alive():
            raise RuntimeError(f"our server died:\n{ours.tail()}")
        ours.stop()
        peer = _peer(data, run_dir)
        procs.append(peer)
        log(f"peer: {mode.static_seconds:.0f} s of the same pollers on the static day ...")
        peer_rec = asyncio.run(_static(peer.base_url, qs, mode.static_seconds, None))
        peer.stop()
        floor = Process(
            "floor",
            ["-m", "bench.floor", "--bodies", str(bodies), "--port", "{port}", *keep_alive_args()],
            run_dir / "floor.log",
        ).start()
        procs.append(floor)
        log(f"floor: {mode.static_seconds:.0f} s of the same pollers ...")
        floor_rec = asyncio.run(_static(floor.base_url, qs, mode.static_seconds, encode))
        return {
            "ingest": {k: loaded[k] for k in ("sent", "accepted", "seconds", "events_per_s")},
            "peak": {"minute_ms": minute_ms, "events": len(minute), "per_s": len(minute) / 60},
            "live": live,
            "peer": peer_rec,
            "floor": floor_rec,
            "failures": rec.failures + [f"ingest: {p}" for p in loaded["problems"]],
        }
    finally:
        for proc in reversed(procs):
            proc.stop()


def _bodies(ours: Process, qs: list[Query], folder: Path) -> tuple[Path, dict[str, float]]:
    """Each question's answer at the start (the floor serves them) and its encoding time."""
    folder.mkdir(exist_ok=True)
    encode: dict[str, float] = {}
    for q in qs:
        status, body, _ = fetch(ours.base_url, q.path, q.body)
        if status != 200:
            raise RuntimeError(f"{q.name}: ours answered {status}: {body[:300]!r}")
        (folder / f"{q.name}.json").write_bytes(body)
        encode[q.name] = encode_time_s(orjson.loads(body))
    return folder, encode


def _peer(data: Dataset, run_dir: Path) -> Process:
    args = ["-m", "bench.peer", "--db", str(data.peer_db), "--port", "{port}"]
    args += ["--now-ms", str(data.now_ms), *keep_alive_args()]
    return Process("peer", args, run_dir / "peer.log").start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1/100 scale, 20 s")
    parser.add_argument("--seconds", type=float, help="length of the live run")
    parser.add_argument("--static-seconds", type=float, help="length of the peer's and floor's")
    parser.add_argument("--out", type=Path, help="the report whose Live section is written")
    args = parser.parse_args(argv)
    # Stopping the harness (kill PID) still stops the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mode = _mode(args)
    CACHE.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"live-{mode.name}-", dir=CACHE))
    started = time.monotonic()
    try:
        data = prepare(mode.scale, CACHE, log)
        results = summarize(measure(mode, data, run_dir))
    except Exception:
        traceback.print_exc()
        log(f"the harness failed; logs are in {run_dir}")
        return 2
    results |= {
        "mode": mode.name,
        "command": mode.command,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "harness_seconds": time.monotonic() - started,
        "machine": machine(),
        "data": {"events": data.events, "large": data.large, "scale": mode.scale.__dict__},
        "wallboards": [q.name for q in rotation(queries(data))],
    }
    write(results, mode.out)
    shutil.rmtree(run_dir, ignore_errors=True)
    for failure in results["failures"]:
        log(f"FAILED: {failure}")
    log(f"done in {time.monotonic() - started:.0f} s")
    return 1 if results["failures"] else 0


def write(results: dict[str, Any], out: Path) -> None:
    """The JSON beside the report, and the section spliced into the report (a quick run's
    report starts as a copy of docs/benchmarks.md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        shutil.copy(ROOT / "docs" / "benchmarks.md", out)
    json_path = out.with_name("benchmarks-live.json")
    json_path.write_text(json.dumps(results, indent=1))
    out.write_text(LIVE.splice(out.read_text(), render(results)))
    log(f"report: {out} (section Live), results: {json_path}")


if __name__ == "__main__":
    sys.exit(main())
