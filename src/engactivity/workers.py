"""``serve --workers N``: N forked server processes sharing one listening socket.

The service (service.py) binds the socket and prepares the database once, then hands
this module the function that serves in one process; this module forks N workers that
each run it on the inherited socket (the kernel hands each new connection to one of
them), restarts a worker that dies and, on SIGTERM or SIGINT, stops them all
gracefully.

Only the PostgreSQL store can be shared like this: each worker keeps its own memory
copy of the rollups and catches up from the database before answering (postgres.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

log = logging.getLogger("engactivity")

_RESTART_DELAY_S = 1.0
"""Pause before a dead worker is started again (a worker that cannot start does not spin)."""


def _multiprocess_metrics_dir() -> str | None:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` (unless given); the folder made here, if any.

    prometheus_client decides at import whether values live in memory (one process)
    or in files under that folder, which /metrics sums over the workers. Imported
    before the variable is set, the workers would count in memory while /metrics reads
    only the files: no request metric at all. The check makes that mistake loud.
    """
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="engactivity-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            "prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set: "
            "the workers' request metrics would not be shared"
        )
    return metrics_dir


def serve_workers(count: int, shutdown_timeout: int, serve_one: Callable[[int], None]) -> None:
    """Run ``serve_one(index)`` in ``count`` forked processes until SIGTERM or SIGINT;
    start again any that dies. A worker gets ``shutdown_timeout`` seconds (and some) to
    stop once told to."""
    # /metrics sums the values every worker writes there.
    metrics_dir = _multiprocess_metrics_dir()
    # Forked from a parent that has imported everything and holds no store and no
    # threads: workers start at once instead of importing the world again each.
    import engactivity.api  # noqa: F401

    context = multiprocessing.get_context("fork")

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker, args=(serve_one, index), name=f"engactivity-worker-{index}"
        )
        process.start()
        log.info("worker %d started (pid %s)", index, process.pid)
        return process

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    processes = [start(i) for i in range(count)]
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    log.warning(
                        "worker %d (pid %s) exited with %s; starting it again",
                        index,
                        process.pid,
                        process.exitcode,
                    )
                    time.sleep(_RESTART_DELAY_S)
                    processes[index] = start(index)
    finally:
        _stop(processes, shutdown_timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("all workers stopped")


def _worker(serve_one: Callable[[int], None], index: int) -> None:
    """A forked worker. It inherits the parent's handlers, which only set the parent's
    flag: it takes the default ones back at once, so a worker told to stop while it
    starts stops (serving installs its own handlers once it serves)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    serve_one(index)


def _stop(processes: list[BaseProcess], shutdown_timeout: int) -> None:
    """SIGTERM to every worker; kill those still there once they had time to drain."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + shutdown_timeout + 15
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
