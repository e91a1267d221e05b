"""Load generation: a wrapper of ``wrk`` (Debian's, ``/usr/bin/wrk``) and its output parser.

One connection (``wrk -t1 -c1 --latency``) gives the latency distribution (p50/p99)
of requests sent back to back; 32 connections (``wrk -t2 -c32``) give the throughput.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass

_TIME_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE_B = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    bytes_read: float
    non_2xx: int
    socket_errors: int
    timeouts: int

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.non_2xx == 0 and self.socket_errors == 0

    def as_json(self) -> dict[str, float | int]:
        return asdict(self)


def to_ms(text: str) -> float:
    """``"1.23ms"`` -> 1.23; wrk prints times in us, ms, s, m or h."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise WrkError(f"not a wrk time: {text!r}")
    return float(match.group(1)) * _TIME_MS[match.group(2)]


def to_bytes(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(B|KB|MB|GB|TB)", text.strip())
    if not match:
        raise WrkError(f"not a wrk size: {text!r}")
    return float(match.group(1)) * _SIZE_B[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Parse the text ``wrk --latency`` prints."""
    percentiles: dict[str, float] = {}
    for match in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.M):
        percentiles[match.group(1)] = to_ms(match.group(2))
    total = re.search(r"^\s*(\d+) requests in (\S+), (\S+) read", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.M)
    if total is None or rps is None or len(percentiles) != 4:
        raise WrkError(f"could not parse wrk output:\n{output}")
    socket_errors = timeouts = 0
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        connect, read, write, timeouts = (int(g) for g in errors.groups())
        socket_errors = connect + read + write + timeouts
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=to_ms(total.group(2)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        bytes_read=to_bytes(total.group(3)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        timeouts=timeouts,
    )


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed: run `bash scripts/install-system-deps`")
    return path


def post_script(body: bytes) -> str:
    """A wrk Lua script that sends ``body`` (JSON) by POST."""
    text = body.decode()
    level = 0
    while f"]{'=' * level}]" in text + "]":  # the body may not close the string early
        level += 1
    quote = "=" * level
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [{quote}[{text}]{quote}]\n"
    )


def run_wrk(
    url: str, connections: int, duration_s: int, timeout_s: int = 60, body: bytes | None = None
) -> WrkResult:
    """``wrk --latency`` against ``url``: 1 thread for 1 connection, else 2 threads; a
    ``body`` is sent by POST (as JSON), else requests are GETs."""
    threads = 1 if connections == 1 else min(2, connections)
    cmd = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={timeout_s}s",
        "--latency",
        url,
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if body is not None:
            script.write(post_script(body))
            script.flush()
            cmd[-1:-1] = ["-s", script.name]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
        )
    if done.returncode != 0:
        raise WrkError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)
