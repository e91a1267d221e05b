"""Account identifiers, as they appear in URL paths."""

from __future__ import annotations

import re

from engactivity.core.problems import InvalidRequest, Problem

_ACCOUNT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ACCOUNT_ALLOWED = (
    "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
)


def check_account_id(account_id: str) -> str:
    if _ACCOUNT_RE.fullmatch(account_id) is None:
        raise InvalidRequest(
            [Problem("accountId", f"invalid account id {account_id[:80]!r}", ACCOUNT_ALLOWED)]
        )
    return account_id
