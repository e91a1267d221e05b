"""``serve --workers N``: N server processes sharing one listening socket.

The parent binds the socket, prepares the database once, then forks N worker
processes that each open the store and serve on the inherited
socket; the kernel hands each new connection to one of them. The parent restarts a
worker that dies and, on SIGTERM or SIGINT, stops them all gracefully.

Only the PostgreSQL store can be shared like this: each worker keeps its own memory
copy of the rollups and catches up from the database before answering (postgres.py).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from engactivity.settings import Settings

log = logging.getLogger("engactivity")

_RESTART_DELAY_S = 1.0
"""Pause before a dead worker is started again (a worker that cannot start does not spin)."""


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    log_level: str
    log_format: str
    shutdown_timeout: int


class _Terminated(Exception):
    pass


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _worker(settings: Settings, sock: socket.socket, options: WorkerOptions) -> None:
    """One worker process: open the store, serve on the shared socket until told to stop."""
    import uvicorn

    from engactivity.api import create_app
    from engactivity.clock import clock_from_env
    from engactivity.interpreter import settle_after_startup
    from engactivity.logs import setup_logging
    from engactivity.store import open_store

    setup_logging(options.log_level, options.log_format)
    clock, _ = clock_from_env()
    store = open_store(settings.store_url, clock, settings.retention_ms, settings.synchronous)
    app = create_app(settings, clock, store)
    settle_after_startup()
    config = uvicorn.Config(
        app,
        log_level=options.log_level.lower(),
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=options.shutdown_timeout,
    )
    # uvicorn raises the stop signal again once drained: close the store first.
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except (_Terminated, KeyboardInterrupt):
        pass
    finally:
        store.close()


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


def serve_workers(settings: Settings, workers: int, options: WorkerOptions) -> None:
    """Run ``workers`` server processes until SIGTERM or SIGINT; restart any that dies."""
    import uvicorn

    sock = uvicorn.Config(
        app="engactivity:unused", host=settings.host, port=settings.port
    ).bind_socket()
    sock.set_inheritable(True)
    # /metrics sums the values every worker writes there.
    metrics_dir = _multiprocess_metrics_dir()
    # Forked from a parent that has imported everything and holds no store and no
    # threads: workers start at once instead of importing the world again each.
    import engactivity.api  # noqa: F401

    context = multiprocessing.get_context("fork")

    def start(index: int) -> BaseProcess:
        # Only the first worker runs the demo traffic, so it is not multiplied.
        own = settings if index == 0 else dataclasses.replace(settings, demo=False)
        process = context.Process(
            target=_worker, args=(own, sock, options), name=f"engactivity-worker-{index}"
        )
        process.start()
        log.info("worker %d started (pid %s)", index, process.pid)
        return process

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    processes = [start(i) for i in range(workers)]
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
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + options.shutdown_timeout + 15
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        log.info("all workers stopped")
