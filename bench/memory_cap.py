"""``python -m bench.memory_cap``: a capped server's resident memory against its cap.

Fills a PostgreSQL database with copies of the standard day (:mod:`bench.copies`,
through the write API of one uncapped server), or takes one already filled
(``--store``, with ``--copies`` saying how many it holds), then, for each cap, starts
a fresh ``serve --workers 1 --memory-mb CAP`` on it, asks every account once (Q1,
account totals over 24 h: each account is loaded from the store, and the cap evicts
the least recently used; ``--rounds 2`` asks them all again, loading the evicted ones
again), and prints the process's VmRSS and VmHWM, before any
question (the bare process) and after, beside its own estimate
(``engactivity_memory_in_use_bytes``). ``--cap 0`` is a server without a cap.

    python -m bench.memory_cap --copies 1 --keep          # fill, measure, keep the database
    python -m bench.memory_cap --store URL --copies 1 --cap 256,512,0

The figures are written down in docs/configuration.md ("Memory").
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.copies import copy_account
from bench.data import FULL, QUICK, Dataset, prepare
from bench.run import CACHE, log
from bench.scale import Database, cold_query, fetch, gauges, ingest_step, resident, start_server
from bench.servers import Process

MiB = 2**20


def fill(data: Dataset, db: Database, copies: int, run_dir: Path) -> None:
    writer = start_server("fill", db.url, data.now_ms, run_dir, None)
    try:
        result = ingest_step(writer, data, 0, copies)
        if result["problems"]:
            raise RuntimeError(f"ingest: {result['problems']}")
        log(f"filled {copies} copies: {result['events_per_s']:,.0f} events/s")
    finally:
        writer.stop()


def rss_mib(server: Process) -> dict[str, float]:
    procs = resident(server)
    return {
        "VmRSS": sum(p["VmRSS"] for p in procs) / MiB,
        "VmHWM": sum(p["VmHWM"] for p in procs) / MiB,
    }


def measure(
    data: Dataset, url: str, copies: int, rounds: int, cap_mb: int, run_dir: Path
) -> dict[str, Any]:
    """Q1 of every account, ``rounds`` times over, on a fresh server capped at ``cap_mb``
    (0: no cap); from the second round on, accounts evicted are loaded again."""
    server = start_server(f"cap{cap_mb}", url, data.now_ms, run_dir, cap_mb or None)
    try:
        time.sleep(1)
        out: dict[str, Any] = {"cap_mb": cap_mb, "bare": rss_mib(server)}
        started = time.monotonic()
        for _, copy in itertools.product(range(rounds), range(copies)):
            for account in [data.large, *data.small]:
                q = cold_query(data, copy_account(account, copy))
                status, body, _ = fetch(server, q.path)
                if status != 200:
                    raise RuntimeError(f"{q.path}: HTTP {status} {body[:300]!r}")
        out["seconds"] = time.monotonic() - started
        out["after"] = rss_mib(server)
        metrics = gauges(server)
        out["estimate_mib"] = metrics.get("engactivity_memory_in_use_bytes", 0.0) / MiB
        out["metrics"] = metrics
        return out
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_cap", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="copies of the 1/100 day")
    parser.add_argument("--copies", type=int, default=1, help="copies of the day (default 1)")
    parser.add_argument("--rounds", type=int, default=1, help="times each is asked (default 1)")
    parser.add_argument("--store", help="a PostgreSQL database holding --copies already")
    parser.add_argument("--cap", default="256,512", help="caps in MiB, 0 = none (default 256,512)")
    parser.add_argument("--keep", action="store_true", help="keep the database it fills")
    args = parser.parse_args(argv)
    caps = [int(c) for c in args.cap.split(",")]
    run_dir = CACHE / f"memory-cap-{os.getpid()}"
    run_dir.mkdir(parents=True)
    data = prepare(QUICK if args.quick else FULL, CACHE, log)
    db = Database(args.store)
    try:
        if not args.store:
            fill(data, db, args.copies, run_dir)
            log(f"database: {db.url}")
        for cap in caps:
            result = measure(data, db.url, args.copies, args.rounds, cap, run_dir)
            result.pop("metrics")
            print(json.dumps(result), flush=True)
    finally:
        if not args.keep:
            db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
