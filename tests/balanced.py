"""The balanced test topology (``ENGACTIVITY_TEST_TOPOLOGY=balanced``, ``make
test-balanced``): each test server is two ``engactivity serve`` processes on one
PostgreSQL database, each with ``--memory-mb 0.01``, behind a real nginx on loopback
that balances round robin, so consecutive requests about one account go to different
processes and accounts are evicted and read again all through the run
(docs/deploy.md, "The test suites through a balancer"). Run as root, the database is
a primary with a synchronous replica (tests/replicated.py), named by a multi-host URL.

This module holds the nginx in front, the tests left out of that topology and the
run (``main``); tests/conftest.py ``Server`` starts the processes.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ports import listens, log_size, port_was_taken
from tests.replicated import replicated

BALANCED = os.environ.get("ENGACTIVITY_TEST_TOPOLOGY", "single") == "balanced"
NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
"""Debian's nginx is in /usr/sbin, off a user's PATH (scripts/install-system-deps)."""
MEMORY_MB = "0.01"
"""Each process's cap, 10 KiB: below any test account, so a process keeps only the
account it used last, and every test of two accounts or more evicts."""
TALLY = os.environ.get("ENGACTIVITY_TEST_BALANCED_TALLY")
"""A file where each balanced server, as it stops, adds a line of its processes' loads
and evictions (``make test-balanced`` sums it: evictions must have happened)."""
MEMORY_COUNTERS = ("engactivity_memory_account_loads", "engactivity_memory_account_evictions")

# Round robin (nginx's default), the harsher case: no account affinity. What the service
# judges (body, header and URL sizes, slow bodies) is passed on for it to judge: no body
# size limit, header buffers above its 32 KiB, no buffering either way; bodies stay in
# memory (no temporary files, which nginx's workers could not write in a root-owned
# test folder).
CONFIG = """\
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    upstream engactivity {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://engactivity;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-ID $request_id;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 120s;
            client_max_body_size 0;
            client_body_buffer_size 64m;
        }}
        large_client_header_buffers 4 64k;
    }}
}}
"""

SINGLE_PROCESS = {
    # Signals and exit codes of "the" process.
    "tests/api/test_push.py::test_shutdown_ends_open_streams_with_a_last_event": (
        "sends SIGTERM to the one server process and reads its exit code"
    ),
    # Push timing of this process's own writes.
    "tests/api/test_push.py::test_a_change_after_a_quiet_period_is_pushed_at_once": (
        "the leading edge is for the stream's own process's writes; another process's"
        " reach it within one push period (docs/api.md)"
    ),
    # The log of "the" process (each process writes its own).
    "tests/api/test_configuration.py::test_writes_through_the_server_do_not_make_it_reload": (
        "counts lines of the one process's log"
    ),
    "tests/auth/test_api_auth.py::test_no_key_yet_on_loopback_serves_requests"
    "_without_credentials": "reads the one process's start-up warning in its log",
    "tests/auth/test_api_auth.py::test_insecure_no_auth_warns_and_serves_everyone": (
        "reads the one process's start-up warning in its log"
    ),
    # What nginx refuses itself, before any process sees it.
    "tests/api/test_discovery_health.py::test_odd_account_ids[%00]": (
        "nginx answers a %00 in a path with its own HTML 400"
    ),
    # /metrics through round robin is one process's counters, in turn.
    "tests/api/test_push.py::test_many_streams_of_one_question_share_each_computation": (
        "counts computations in one process's /metrics"
    ),
    "tests/api/test_push.py::test_open_streams_are_counted_until_they_close": (
        "counts streams in one process's /metrics"
    ),
    "tests/api/test_push.py::test_a_client_that_takes_no_bytes_is_dropped_with_a_warning": (
        "reads the one process's /metrics and log (and nginx's buffers would take the bytes)"
    ),
    "tests/api/test_push.py::test_streams_over_the_cap_are_refused_with_503": (
        "the --max-streams cap is per process"
    ),
    # Already two processes of their own on one database.
    "tests/api/test_push.py::test_every_process_pushes_writes_made_through_another": (
        "starts its own second process"
    ),
}
"""Tests about one process by nature, or about what nginx does, skipped in the balanced
topology: node id (without parameters: every one) and why."""


def share_master_key() -> None:
    """One master key for the processes and ``engactivity keys`` of the session: on
    PostgreSQL the OAuth 1.0a secrets are sealed with it, not with a key file beside the
    store (docs/deploy.md), as in a real deployment of several processes."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ.setdefault("ENGACTIVITY_MASTER_KEY", key)


def skip_single_process(items: list[pytest.Item]) -> None:
    for item in items:
        for node, reason in SINGLE_PROCESS.items():
            if node in (item.nodeid, item.nodeid.split("[")[0]):
                item.add_marker(pytest.mark.skip(reason=f"balanced topology: {reason}"))


class Nginx:
    """nginx on 127.0.0.1:``port``, round robin over ``backends`` (loopback ports)."""

    def __init__(self, folder: Path, port: int, backends: list[int]) -> None:
        self.folder = folder
        self.port = port
        self.backends = backends
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Start nginx on ``port``; False when the port was taken first."""
        if NGINX is None:
            raise RuntimeError("nginx is not installed: run scripts/install-system-deps")
        self.folder.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in self.backends)
        conf = self.folder / "nginx.conf"
        conf.write_text(CONFIG.format(folder=self.folder, servers=servers, port=self.port))
        errors = self.folder / "stderr.log"
        logged = log_size(errors)
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.folder), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=errors.open("ab"),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if port_was_taken(errors, logged):
                    self.proc = None
                    return False
                raise RuntimeError(f"nginx exited: {errors.read_text()}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                if listens(self.proc.pid, self.port):  # not another test's server
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("nginx did not listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # nginx's fast shutdown
            self.proc.wait(timeout=10)
        self.proc = None


def memory_counters(port: int) -> tuple[float, float]:
    """Account loads and evictions of the process on ``port``, from its own /metrics
    (0, 0 where /metrics is closed to the test, e.g. by --metrics-token)."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    if response.status_code != 200:
        return 0.0, 0.0
    found = {
        family.name: family.samples[0].value
        for family in text_string_to_metric_families(response.text)
        if family.name in MEMORY_COUNTERS
    }
    loads, evictions = (found.get(name, 0.0) for name in MEMORY_COUNTERS)
    return loads, evictions


def tally(ports: list[int]) -> None:
    if TALLY:
        counts = [memory_counters(port) for port in ports]
        with Path(TALLY).open("a") as out:
            out.write(" ".join(f"{loads:.0f} {evictions:.0f}" for loads, evictions in counts))
            out.write("\n")


def report(path: Path) -> int:
    """Prints the tally's sums; 1 (a failure) if no process evicted an account."""
    rows = [[float(n) for n in line.split()] for line in path.read_text().splitlines()]
    loads = sum(sum(row[0::2]) for row in rows)
    evictions = sum(sum(row[1::2]) for row in rows)
    evicting = sum(1 for row in rows if sum(row[1::2]))
    print(
        f"balanced topology: {len(rows)} servers ({evicting} of them evicted), "
        f"{loads:.0f} loads, {evictions:.0f} evictions"
    )
    return 0 if evictions > 0 else 1


def main(pytest_args: list[str]) -> int:
    """``make test-balanced``: pytest with ``pytest_args`` in the balanced topology, on
    the replicated pair of tests/replicated.py when run as root (it starts servers as
    the postgres user), else on the one test PostgreSQL; then the tally's verdict."""
    folder = Path(tempfile.mkdtemp(prefix="engactivity-balanced-"))
    tally = folder / "tally"
    tally.touch()
    env = {
        **os.environ,
        "ENGACTIVITY_TEST_TOPOLOGY": "balanced",
        "ENGACTIVITY_TEST_BALANCED_TALLY": str(tally),
    }
    try:
        with ExitStack() as stack:
            if os.geteuid() == 0:
                pair = stack.enter_context(replicated())
                env["ENGACTIVITY_TEST_PG_URL"] = pair.url
                env["ENGACTIVITY_TEST_REPLICA_URL"] = pair.replica_url
                print("balanced topology: a primary and its synchronous replica on loopback")
            else:
                print("balanced topology: not root, so on the one test PostgreSQL (no replica)")
            run = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], env=env)
        return run.returncode or report(tally)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
