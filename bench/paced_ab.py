"""Minutes of a live account's life, two versions of the code side by side (not a test).

``python -m bench.paced_ab --data DIR --store DB --src OLD/src --src NEW/src``

Each ``--src`` (a checkout's ``src``, put first on ``PYTHONPATH``) serves its own copy of
the store ``DB`` (the standard day, e.g. made by ``bench.after_write_ab --load``) with
its clock running from the data set's now, as in life: the clock moves buckets on, so
retention works as it does on a live server (it expires a bucket every five minutes).
Once both servers are idle, rounds come at a steady pace for ``--seconds``: for every
server in a random order, the benchmark's write (bench/writes.py ``Writer``) and the
question ``--shape`` right after it, timed. It prints, per server, the latencies of the
answers after a write and the server's CPU over the whole run (what the run's background
work costs shows there, which a short A/B of answers misses).
"""

from __future__ import annotations

import http.client
import random
import time

from bench.after_write_ab import remove_store, served_copies, timed, versions_parser
from bench.data import FULL, _load
from bench.run import Query, queries
from bench.servers import Process, free_port
from bench.stats import percentile
from bench.writes import Writer


def paced(servers: list[Process], now_ms: int, ask: Query, seconds: float, pause_s: float) -> None:
    """The rounds, then one line per server (``now_ms``: the data set's now)."""
    writers = [Writer(s, now_ms, first=10**9) for s in servers]
    conns = [http.client.HTTPConnection("127.0.0.1", s.port, timeout=600) for s in servers]
    times: list[list[float]] = [[] for _ in servers]
    cpu = [s.cpu_s() for s in servers]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for j in random.sample(range(len(servers)), len(servers)):
            writers[j].write(ask.account)
            times[j].append(timed(conns[j], ask))
        time.sleep(pause_s)
    for server, got, before in zip(servers, times, cpu, strict=True):
        spent = server.cpu_s() - before
        print(
            f"{server.name}: {len(got)} rounds; after a write p50 "
            f"{1000 * percentile(got, 50):.2f} ms, p99 {1000 * percentile(got, 99):.2f} ms; "
            f"server CPU {spent:.1f} s ({1000 * spent / len(got):.2f} ms per round)",
            flush=True,
        )


def main() -> None:
    parser = versions_parser(__doc__.split("\n")[0])
    parser.add_argument("--shape", default="AA3")
    parser.add_argument("--seconds", type=float, default=420.0, help="over a bucket's expiry")
    parser.add_argument("--pause-ms", type=float, default=50.0, help="between two rounds")
    args = parser.parse_args()
    data = _load(args.data, FULL)
    ask = {q.name: q for q in queries(data)}[args.shape]
    copies = [args.store.with_name(f"{args.store.stem}-paced{n}.db") for n in range(len(args.src))]
    ports = [free_port() for _ in args.src]
    try:
        with served_copies(args.store, copies, args.src, data.now_ms, ports, True) as servers:
            paced(servers, data.now_ms, ask, args.seconds, args.pause_ms / 1000)
    finally:
        for copy in copies:
            remove_store(copy)


if __name__ == "__main__":
    main()
