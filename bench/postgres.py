"""A small measurement of the PostgreSQL setup: ingest rate and query latency.

``python -m bench.postgres --store postgresql://... --workers 2`` starts
``engactivity serve`` on that (empty) database, sends EVENTS events in batches of
BATCH from SENDERS concurrent connections (a share of them resent: duplicates), then
measures engactivity queries with wrk for a few seconds per kind, and prints one
JSON object. Every query answer is checked against the number of events sent.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time

import httpx
import orjson

from bench.ingest import send_all
from bench.load import run_wrk


def _batches(events: int, batch: int, accounts: int) -> tuple[list[bytes], list[str]]:
    rng = random.Random(7)
    now = int(time.time() * 1000)
    bodies: list[bytes] = []
    names: list[str] = []
    for start in range(0, events, batch):
        account = f"acct-{(start // batch) % accounts}"
        rows = []
        for n in range(start, min(events, start + batch)):
            row: dict[str, object] = {
                "eventId": f"e-{n}",
                "time": now - rng.randint(0, 1430 * 60_000),
                "skillId": rng.randint(1, 20),
                "agentId": rng.randint(1, 300),
            }
            if n % 3:
                row |= {"type": "closed", "interactive": n % 2 == 0, "handlingTime": n % 600}
            else:
                row["type"] = "connected"
            rows.append(row)
        bodies.append(orjson.dumps(rows))
        names.append(account)
    # a tenth of the batches delivered twice: the second time all duplicates
    return bodies + bodies[: len(bodies) // 10], names + names[: len(names) // 10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    command = [sys.executable, "-m", "engactivity", "serve", "--port", str(args.port)]
    command += ["--store", args.store, "--workers", str(args.workers), "--log-level", "warning"]
    server = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        bodies, accounts = _batches(args.events, args.batch, args.accounts)
        started = time.perf_counter()
        sent = send_all(url, bodies, accounts, args.senders)
        ingest_s = time.perf_counter() - started
        result: dict[str, object] = {
            "workers": args.workers,
            "events": args.events,
            "batch": args.batch,
            "senders": args.senders,
            "ingest": sent,
            "ingest_events_per_s": round((args.events * 1.1) / ingest_s),
        }
        total = 0
        for n in range(args.accounts):
            answer = httpx.get(
                f"{url}/operations/api/account/acct-{n}/engactivity",
                params={"timeframe": 1440, "v": 1},
            ).json()["metricsTotals"]
            total += answer["connectedEngagements"] + answer["totalInteractiveChats"]
            total += answer["totalNonInteractiveChats"]
        assert total == args.events, (total, args.events)
        queries = {
            "totals_60": "timeframe=60&v=1",
            "skills_agents_1440_by_60": "timeframe=1440&interval=60&skillIds=all&agentIds=all&v=1",
        }
        for name, query in queries.items():
            target = f"{url}/operations/api/account/acct-0/engactivity?{query}"
            result[name] = run_wrk(target, 16, args.seconds).as_json()
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
