"""Answers right after a write, two versions of the code side by side (not a test).

``python -m bench.after_write_ab --data DIR --store DB --src OLD/src --src NEW/src``

Each ``--src`` (a checkout's ``src``, put first on ``PYTHONPATH``) serves its own copy of
the store ``DB`` the way the benchmark serves it (``engactivity serve``, SQLite,
``--sync full``, the clock pinned at the data set's now). Each round, for every server
in a random order (so that all see the same machine), the benchmark's write
(bench/run.py ``Writer``), then the query on another keep-alive connection, timed from
sending it to the end of its answer, then the same query again (served from the
answer cache). It prints, per shape, the p50 of each server, the median of the
per-round ratios to the first server, and the server's CPU per round (write + two
answers). Two servers of the same code differ by up to about 10% on a busy machine:
give the same ``--src`` twice to see the noise.

``--clock-running``: the servers' clocks run from the data set's now instead (agent
activity's answers are each of their own moment, and the write's agent is inside
their windows), as in life. ``--late-min M`` dates every write's events M minutes
before the data set's now: with the clock running, late agent states in agent
activity's past intervals (a producer that fell behind).

``--load`` first ingests the data set's standard day into ``DB`` (about 2 minutes of
CPU). A server started on a loaded store sweeps its event ids once (retention): the
rounds begin when every server is idle.
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.data import FULL, _load
from bench.run import Query, queries, send_batches
from bench.servers import Process, free_port
from bench.writes import Writer, send
from engactivity.core.timeframe import MINUTE_MS

WARMUP = 5
"""Rounds not counted (the first loads the account)."""


def serve(db: Path, src: str, now_ms: int, port: int, log: Path, running: bool = False) -> Process:
    """``engactivity serve`` of ``src`` on ``db``, its clock pinned at ``now_ms`` (or,
    ``running``, running from it)."""
    args = ["-m", "engactivity", "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--store", f"sqlite:///{db}", "--sync", "full", "--log-level", "warning"]
    clock = "ENGACTIVITY_FAKE_START_MS" if running else "ENGACTIVITY_FAKE_NOW_MS"
    env = {clock: str(now_ms), "PYTHONPATH": src}
    process = Process(f"engactivity ({src})", args, log, env)
    process.port = port
    return process.start(timeout_s=300)


FILES = ("", "-wal", "-shm", ".sessions", ".sessions-wal", ".sessions-shm")
"""The suffixes of a SQLite store's files."""


def remove_store(db: Path) -> None:
    for suffix in FILES:
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def copy_store(db: Path, to: Path) -> None:
    remove_store(to)
    for suffix in FILES:
        if Path(f"{db}{suffix}").exists():
            shutil.copy(f"{db}{suffix}", f"{to}{suffix}")


@contextmanager
def served_copies(
    db: Path, copies: list[Path], srcs: list[str], now_ms: int, ports: list[int], running: bool
) -> Iterator[list[Process]]:
    """Each ``srcs[i]`` serving its own copy ``copies[i]`` of ``db`` (as :func:`serve`) on
    ``ports[i]``, once all of them are idle (a server started on a loaded store sweeps its
    event ids first); stopped at the end."""
    servers: list[Process] = []
    try:
        for copy, src, port in zip(copies, srcs, ports, strict=False):
            copy_store(db, copy)
            servers.append(serve(copy, src, now_ms, port, copy.with_suffix(".log"), running))
        for server in servers:
            server.wait_idle(window_s=2, limit_s=600)
        yield servers
    finally:
        for server in servers:
            server.stop()


def timed(conn: http.client.HTTPConnection, q: Query) -> float:
    started = time.perf_counter()
    send(conn, q.path, q.body)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"{q.name}: HTTP {response.status}")
    return time.perf_counter() - started


def rounds(servers: list[Process], writers: list[Writer], q: Query, n: int) -> None:
    k = len(servers)
    conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=600) for s in servers]
    after: list[list[float]] = [[] for _ in range(k)]
    cached: list[list[float]] = [[] for _ in range(k)]
    cpu = [0.0] * k
    for i in range(n + WARMUP):
        if i == WARMUP:
            cpu = [s.cpu_s() for s in servers]
        for j in random.sample(range(k), k):
            writers[j].write(q.account)
            try:
                first = timed(conns[j], q)
            except (OSError, http.client.HTTPException):
                # An idle keep-alive connection closed while the first round loaded the
                # account: a new one (the round is not counted).
                conns[j] = http.client.HTTPConnection("127.0.0.1", servers[j].port, timeout=600)
                continue
            again = timed(conns[j], q)
            if i >= WARMUP:
                after[j].append(first)
                cached[j].append(again)
    spent = [(s.cpu_s() - c) / n * 1000 for s, c in zip(servers, cpu, strict=True)]
    for conn in conns:
        conn.close()
    report(q.name, after, cached, spent)


def report(
    name: str, after: list[list[float]], cached: list[list[float]], cpu: list[float]
) -> None:
    def ms(values: list[float]) -> str:
        return f"{1000 * statistics.median(values):.3f}"

    ratios = [
        f"{statistics.median([b / a for a, b in zip(after[0], other, strict=False)]):.3f}"
        for other in after[1:]
    ]
    print(
        f"{name}: after a write p50 {' | '.join(ms(v) for v in after)} ms; "
        f"ratio to the first (median of rounds) {' | '.join(ratios)}; "
        f"repeated p50 {' | '.join(ms(v) for v in cached)} ms; "
        f"server CPU per round {' | '.join(f'{c:.2f}' for c in cpu)} ms",
        flush=True,
    )


def versions_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of an A/B of code versions: the data set, the store, the ``src``s."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True, help="a prepared data set")
    parser.add_argument("--store", type=Path, required=True, help="a SQLite file")
    parser.add_argument("--src", action="append", required=True, help="a checkout's src")
    return parser


def main() -> None:
    parser = versions_parser(__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="Q1,Q7,QH1,QH4,QS1,SLA1,AA3")
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--load", action="store_true", help="ingest the day into --store")
    parser.add_argument("--port-base", type=int, default=0, help="0: free ports")
    parser.add_argument(
        "--clock-running",
        action="store_true",
        help="the servers' clocks run from the day's now (the writes' agentState, dated at "
        "it, then falls inside agent activity's windows: the agent is measured again)",
    )
    parser.add_argument(
        "--late-min",
        type=int,
        default=0,
        help="dates every write's events this many minutes before the day's now (with the "
        "clock running: late events, in agent activity's past intervals)",
    )
    args = parser.parse_args()
    data = _load(args.data, FULL)
    ports = [args.port_base + i if args.port_base else free_port() for i in range(9)]
    if args.load:
        remove_store(args.store)
        loader = serve(
            args.store, args.src[0], data.now_ms, ports[-1], args.store.with_suffix(".log")
        )
        try:
            print(send_batches(loader, *data.batch_files(False)))
        finally:
            loader.stop()
    copies = [args.store.with_name(f"{args.store.stem}-ab{i}.db") for i in range(len(args.src))]
    with served_copies(
        args.store, copies, args.src, data.now_ms, ports, args.clock_running
    ) as servers:
        writers = [Writer(s, data.now_ms - args.late_min * MINUTE_MS) for s in servers]
        by_name = {q.name: q for q in queries(data)}
        for name in args.shapes.split(","):
            rounds(servers, writers, by_name[name], args.rounds)


if __name__ == "__main__":
    main()
