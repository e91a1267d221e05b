"""The deployment's network: one namespace per host, all on one private bridge.

``python -m bench.multihost.topology up`` makes it, ``... down`` removes it and ends
every process still inside it (all started by the scale test). Every name starts with
``eas-``; the bridge lives in a namespace of its own (``eas-sw``), so nothing is added
to the machine's own network and no traffic leaves the namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

PREFIX = "eas-"
SUBNET = "10.231.0"
SWITCH = f"{PREFIX}sw"
HOSTS = {"cli": 5, "lb": 10, "pg1": 11, "pg2": 12, "api1": 21, "api2": 22}
"""Each host's last address byte: the producers, nginx, the databases, the API hosts."""


def netns(host: str) -> str:
    return PREFIX + host


def address(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def inside(host: str, *argv: str) -> list[str]:
    """``argv`` run in ``host``'s namespace (``ip netns exec`` execs it: same pid)."""
    return ["ip", "netns", "exec", netns(host), *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def existing() -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    names = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    return [name for name in names if name.startswith(PREFIX)]


def up() -> None:
    down()  # what an interrupted run may have left
    _ip("netns", "add", SWITCH)
    _ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
    _ip("-n", SWITCH, "link", "set", "br0", "up")
    for host in HOSTS:
        name = netns(host)
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")
        # eth0 in the host, its other end (named after the host) on the bridge
        _ip(
            "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", host, "netns", SWITCH
        )
        _ip("-n", SWITCH, "link", "set", host, "master", "br0", "up")
        _ip("-n", name, "addr", "add", f"{address(host)}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")


def down() -> None:
    for name in existing():
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], check=False)


def main() -> None:
    commands = {"up": up, "down": down}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit("usage: python -m bench.multihost.topology up|down")
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
