"""Copies of the standard day on other accounts: ``python -m bench.scale``'s data.

Copy ``k`` of the standard day is the same batches sent for other account ids: account
``a`` becomes ``k * 10**8 + a`` (the day's ids are below 10**8, so copies never meet and
copy 0 is the day itself). Event ids are only unique within an account, so a copy's
events are all new, and every copy's answers equal the day's, byte for byte: the
benchmark checks that, and needs no data but the day's own files.
"""

from __future__ import annotations

from collections.abc import Sequence

COPY_STRIDE = 10**8


def copy_account(account: str, copy: int) -> str:
    """Account ``account`` of the day, in copy ``copy``."""
    number = int(account)
    if not 0 <= number < COPY_STRIDE or copy < 0:
        raise ValueError(f"cannot copy account {account!r} as copy {copy}")
    return str(copy * COPY_STRIDE + number)


def interleaved(
    bodies: Sequence[bytes], accounts: Sequence[str], first: int, count: int
) -> tuple[list[bytes], list[str]]:
    """Copies ``first`` to ``first + count - 1`` of the day's batches, as one feed: each
    batch of the day for every copy in turn, so all the copies' accounts receive
    traffic at once, as on a shared service (the bodies are shared, not duplicated)."""
    out_bodies: list[bytes] = []
    out_accounts: list[str] = []
    for body, account in zip(bodies, accounts, strict=True):
        for copy in range(first, first + count):
            out_bodies.append(body)
            out_accounts.append(copy_account(account, copy))
    return out_bodies, out_accounts
