"""What a caller needs to call a route, and what a caller was let through with.

- ``OPEN``: nothing (health, discovery, the wallboard, the API description).
- ``METRICS``: the metrics token (``--metrics-token``; open on loopback binds without one).
- ``READ_KEY`` / ``WRITE_KEY`` (``account_key(scope)``): a key of the account named by
  the path parameter ``accountId``, with that scope.
- ``ANY_KEY``: a valid key of any account; what paths of no route need (404s included).

Routes declare one of these where they are added (``engactivity.api.access``); a
``Grant`` says what a request was let through with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engactivity.auth.keys import READ, WRITE

Kind = Literal["open", "metrics", "account", "key"]


@dataclass(frozen=True, slots=True)
class Access:
    kind: Kind
    scope: str | None = None
    """``account``: the scope the key needs."""
    param: str | None = None
    """``account``: the path parameter naming the account."""


OPEN = Access("open")
METRICS = Access("metrics")
ANY_KEY = Access("key")


def account_key(scope: str, param: str = "accountId") -> Access:
    """A key of the account in path parameter ``param``, with ``scope``."""
    return Access("account", scope, param)


READ_KEY = account_key(READ)
WRITE_KEY = account_key(WRITE)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a request was let through with."""

    key_id: str | None
    account: str | None
    scopes: frozenset[str]
    waived: bool = False
    """No key was needed: authentication is off, or the localhost exception holds."""

    def allows(self, account: str | None, scope: str | None) -> bool:
        return self.waived or (self.account == account and scope in self.scopes)


WAIVED = Grant(None, None, frozenset(), waived=True)
