"""Which credentials each path needs (pure).

Open: health, domain discovery, the wallboard's static files (the page holds no data;
its API calls carry the key) and the API description. Everything else needs a valid
key; the engactivity query needs a ``read`` key of the account in the path, ingestion
a ``write`` key of it. Paths not listed (404s included) need a valid key of any
account, so a route added later is never open by mistake.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from engactivity.auth.keys import READ, WRITE

_OPEN_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/",
        "/wallboard",
        "/wallboard/",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)
_OPEN_PREFIXES = ("/wallboard/static/",)
_DISCOVERY = re.compile(r"/api/account/[^/]+/service/leDataReporting/baseURI\.json")
_ACCOUNT_ROUTES = (
    (re.compile(r"/operations/api/account/([^/]+)/engactivity"), READ),
    (re.compile(r"/api/v1/accounts/([^/]+)/events"), WRITE),
)


@dataclass(frozen=True)
class Need:
    kind: str
    """``open``, ``metrics``, ``account`` (a key of ``account`` with ``scope``) or ``key``."""
    account: str | None = None
    scope: str | None = None


OPEN = Need("open")
METRICS = Need("metrics")
ANY_KEY = Need("key")


def need_for(path: str) -> Need:
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES) or _DISCOVERY.fullmatch(path):
        return OPEN
    if path == "/metrics":
        return METRICS
    for pattern, scope in _ACCOUNT_ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return Need("account", match.group(1), scope)
    return ANY_KEY


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` listens on loopback addresses only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
