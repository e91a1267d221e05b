"""Run a Python client program unchanged, with some host names sent to local ports.

What an operator does with /etc/hosts (the names point at the service) and the
service's ports 80 and 443, done here for one process without touching the machine:

    python -m tests.clients.with_hosts 'api.liveperson.net:80=127.0.0.1:8080,...' \
        program.py [args...]

Each rule sends connections to ``name:port`` to ``address:local_port``. Only the
connection's address changes: the client still sends ``Host: name``, checks the
certificate against ``name`` and signs its requests for ``https://name/...``.
"""

from __future__ import annotations

import runpy
import socket
import sys
from typing import Any

_original = socket.getaddrinfo


def _rules(text: str) -> dict[tuple[str, int], tuple[str, int]]:
    rules = {}
    for rule in text.split(","):
        name, target = rule.split("=")
        host, port = name.rsplit(":", 1)
        address, local = target.rsplit(":", 1)
        rules[host.lower(), int(port)] = (address, int(local))
    return rules


def main() -> None:
    rules = _rules(sys.argv[1])

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        key = (str(host).lower(), int(port or 0))
        if key in rules:
            host, port = rules[key]
        return _original(host, port, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    program = sys.argv[2]
    sys.argv = sys.argv[2:]
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
