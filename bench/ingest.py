"""The ingest load: pre-encoded batches POSTed by concurrent senders, in a process of its own.

``python -m bench.ingest URL BATCHES ACCOUNTS --senders 4`` reads every batch into
memory first (with ``--copies FIRST:COUNT``, the batches of those copies of the day on
other accounts, :mod:`bench.copies`), prints ``ready``, waits for a line on stdin, then
sends: each sender thread keeps one HTTP/1.1 connection and takes the next batch in
order. It prints one JSON line: events sent, wall time, and the sums of the answers. A
429 or 503 is retried after a pause (counted); any other non-200 answer is a failure.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from bench.copies import interleaved


def send_all(url: str, bodies: list[bytes], accounts: list[str], senders: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lock = threading.Lock()
    position = [0]
    totals = {"accepted": 0, "duplicates": 0, "expired": 0, "retries": 0}
    failures: list[str] = []
    latencies: list[float] = []

    def sender() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        headers = {"Content-Type": "application/json"}
        while not failures:
            with lock:
                index = position[0]
                position[0] += 1
            if index >= len(bodies):
                break
            path = f"/api/v1/accounts/{accounts[index]}/events"
            for _attempt in range(20):
                started = time.perf_counter()
                try:
                    conn.request("POST", path, bodies[index], headers)
                    response = conn.getresponse()
                    raw = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=120)
                    status, raw = 0, str(exc).encode()
                else:
                    status = response.status
                if status == 200:
                    result = orjson.loads(raw)
                    with lock:
                        latencies.append(time.perf_counter() - started)
                        for key in ("accepted", "duplicates", "expired"):
                            totals[key] += int(result[key])
                    break
                if status in (0, 429, 503):
                    with lock:
                        totals["retries"] += 1
                    time.sleep(1.0)
                    continue
                failures.append(f"batch {index}: HTTP {status}: {raw[:500]!r}")
                return
            else:
                failures.append(f"batch {index}: gave up after 20 attempts")
                return
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "sent": sum(body.count(b'"eventId"') for body in bodies),
        "batches": len(bodies),
        "seconds": elapsed,
        **totals,
        "batch_p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "batch_p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else None,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("batches", type=Path)
    parser.add_argument("accounts", type=Path)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--copies", help="FIRST:COUNT, copies of the day to send instead")
    args = parser.parse_args()
    bodies = args.batches.read_bytes().splitlines()
    accounts = args.accounts.read_text().split()
    if len(bodies) != len(accounts):
        raise SystemExit("batches and accounts differ in length")
    if args.copies:
        first, count = (int(part) for part in args.copies.split(":"))
        bodies, accounts = interleaved(bodies, accounts, first, count)
    print("ready", flush=True)
    sys.stdin.readline()
    result = send_all(args.url, bodies, accounts, args.senders)
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main()
