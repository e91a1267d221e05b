"""Agent activity with the server's clock running, two versions of the code one after the
other (not a test).

``python -m bench.clock_running_ab --data DIR --store DB --src OLD/src --src NEW/src``

Each ``--src`` (a checkout's ``src``, put first on ``PYTHONPATH``) serves its own copy of
the store ``DB`` (the standard day, e.g. made by ``bench.after_write_ab --load``) with
its clock running from the data set's now (``ENGACTIVITY_FAKE_START_MS``), as the
benchmark's "Agent activity with the clock running" does: once the server has swept
its event ids (retention), each agent activity shape is asked back to back by one
client (``wrk -t1 -c1``) for ``--seconds``; every answer is of another moment. It
prints each shape's p50 and p99 per server. The servers run one after the other, so
give the same ``--src`` twice to see how much a busy machine moves the figures.
"""

from __future__ import annotations

from bench.after_write_ab import copy_store, remove_store, serve, versions_parser
from bench.data import FULL, _load
from bench.load import run_wrk
from bench.run import fetch, queries
from bench.servers import free_port


def main() -> None:
    parser = versions_parser(__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="AA1,AA2,AA3,AA4")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    data = _load(args.data, FULL)
    wanted = args.shapes.split(",")
    shapes = [q for q in queries(data) if q.name in wanted]
    for n, src in enumerate(args.src):
        db = args.store.with_name(f"{args.store.stem}-running{n}.db")
        copy_store(args.store, db)
        log = db.with_suffix(".log")
        server = serve(db, src, data.now_ms, free_port(), log, running=True)
        try:
            server.wait_idle(limit_s=600)
            for q in shapes:
                fetch(server.base_url, q.path, q.body)  # the first answer loads the account
                result = run_wrk(server.base_url + q.path, 1, args.seconds, 60, q.body)
                print(f"{src} {q.name}: p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")
        finally:
            server.stop()
            remove_store(db)


if __name__ == "__main__":
    main()
