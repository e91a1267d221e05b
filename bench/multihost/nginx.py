"""nginx in front of the API hosts, run with its own configuration, pid and logs.

The configuration is the one of docs/deploy.md plus what makes a dead host invisible
to producers: ``proxy_next_upstream error timeout non_idempotent`` sends a request
whose host refused or dropped the connection to the other host, POSTs included.
Resending an ingest POST is safe because ingestion deduplicates by event id; a 503
(the database is switching) is passed on as it is, with its Retry-After, since the
other host would answer the same.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from bench.multihost.topology import address, inside

PORT = 8080

CONFIG = """\
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    log_format upstreams '$msec|$request_method|$status|$upstream_addr|$upstream_status';
    access_log {folder}/access.log upstreams;
    upstream engactivity {{
{servers}
        keepalive 32;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://engactivity;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error timeout non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
            client_max_body_size 11m;
            client_body_buffer_size 1m;  # a batch stays in memory
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, host: str, upstreams: list[str], folder: Path) -> None:
        self.host = host
        self.folder = folder
        self.url = f"http://{address(host)}:{PORT}"
        servers = "\n".join(
            f"        server {address(up)}:{PORT} max_fails=1 fail_timeout=3s;" for up in upstreams
        )
        self.host_of = {f"{address(up)}:{PORT}": up for up in upstreams}
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "nginx.conf"
        self.config.write_text(
            CONFIG.format(folder=folder, servers=servers, listen=f"{address(host)}:{PORT}")
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = inside(self.host, "nginx", "-c", str(self.config), "-p", str(self.folder))
        self.process = subprocess.Popen(command)
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1, trust_env=False)
                return
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"nginx did not start: see {self.folder}/error.log"
                    ) from None
                time.sleep(0.1)

    def routed(self, since: float, until: float) -> dict[str, int]:
        """From the access log, requests answered between two wall-clock times: how
        many each host served, and how many went to the second host after the first
        refused or dropped them."""
        counts: dict[str, int] = {"sent_to_second_host": 0}
        for line in (self.folder / "access.log").read_text().splitlines():
            moment, _method, _status, upstreams, _statuses = line.split("|")
            if not since <= float(moment) < until:
                continue
            tried = upstreams.split(", ")
            served = self.host_of.get(tried[-1], tried[-1])
            counts[f"served_by_{served}"] = counts.get(f"served_by_{served}", 0) + 1
            counts["sent_to_second_host"] += len(tried) > 1
        return counts

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests in flight
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
