"""Ingest right after a start on a loaded PostgreSQL database, two versions of the code
in turn (not a test).

``python -m bench.restart_ingest_ab --store URL --data DIR --src OLD/src --src NEW/src
--copy K [--seconds 90]``

For each ``--src`` (a checkout's ``src``, put first on ``PYTHONPATH``), in order: a
fresh ``engactivity serve --workers 1 --memory-mb 512`` on ``URL`` (clock pinned at the
data set's now), then 4 senders (``bench.ingest``) with a new copy of the day (copy
``K`` for the first, ``K + 1`` for the second: new accounts, so nothing is a
duplicate). It prints, every 15 s, the events accepted per second since the senders
began (``/metrics``). A server started on a database of many accounts sweeps every
account's event ids first (retention); this shows whether ingestion waits for it.
``URL`` is a database ``make bench-scale`` filled (kill the harness with ``kill -9``
before it drops it), or any other.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.data import FULL, _load
from bench.run import CACHE, ROOT
from bench.scale import accepted_events, start_server


def run(store: str, data: Path, now_ms: int, src: str, copy: int, seconds: int) -> list[int]:
    server = start_server(f"restart-{copy}", store, now_ms, CACHE, 512, src)
    command = [sys.executable, "-m", "bench.ingest", server.base_url]
    command += [str(data / "batches.jsonl"), str(data / "batches.accounts")]
    command += ["--senders", "4", "--copies", f"{copy}:1"]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
    sender = subprocess.Popen(command, **pipes, text=True, cwd=ROOT)  # type: ignore[call-overload]
    try:
        assert sender.stdout.readline().strip() == "ready"
        before, started = accepted_events(server), time.monotonic()
        sender.stdin.write("go\n")
        sender.stdin.flush()
        rates = []
        for _ in range(seconds // 15):
            time.sleep(15)
            done = accepted_events(server) - before
            rates.append(round(done / (time.monotonic() - started)))
        return rates
    finally:
        sender.kill()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--src", action="append", required=True)
    parser.add_argument("--copy", type=int, required=True)
    parser.add_argument("--seconds", type=int, default=90)
    args = parser.parse_args()
    now_ms = _load(args.data, FULL).now_ms
    for n, src in enumerate(args.src):
        rates = run(args.store, args.data, now_ms, src, args.copy + n, args.seconds)
        print(f"{src}: events/s since the start, every 15 s: {rates}", flush=True)


if __name__ == "__main__":
    main()
