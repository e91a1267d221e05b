"""Memory per account of the standard day, in-process: the store's estimate (what
``--memory-mb`` caps) beside the process's resident memory growth when the account is
loaded, and the load's time (docs/configuration.md, "Sizing --memory-mb").

    python -m bench.memory_per_account [--quick] [--small N]

The large account and the first N small ones are written into a SQLite file under
``bench/.cache/`` (kept for the next run), then loaded one by one in a fresh store.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import orjson
import psutil

from bench.data import FULL, QUICK, Dataset, prepare
from engactivity.clock import fixed_clock
from engactivity.core.events import validate_batch
from engactivity.methods import tables_of
from engactivity.store import Store, open_store

CACHE = Path(__file__).resolve().parent / ".cache"
UNCAPPED = 1 << 40


def write(data: Dataset, url: str, wanted: set[str]) -> None:
    """The wanted accounts' batches of the day, into the store ``url``."""
    store = open_store(url, fixed_clock(data.now_ms), tables_of(), memory_bytes=UNCAPPED)
    try:
        accounts = (data.dir / "batches.accounts").read_text().split()
        pending = []
        with (data.dir / "batches.jsonl").open("rb") as lines:
            for account, line in zip(accounts, lines, strict=True):
                if account in wanted:
                    events, problems = validate_batch(orjson.loads(line), data.now_ms)
                    assert not problems, problems[:3]
                    pending.append(store.submit(account, events, data.now_ms))
                    if len(pending) > 8:
                        pending.pop(0).result()
        for future in pending:
            future.result()
    finally:
        store.close()


def load(store: Store, account: str) -> tuple[int, int, float]:
    """The account loaded as a first query would: (estimate, RSS growth, seconds)."""
    process = psutil.Process()
    gc.collect()
    rss, held = process.memory_info().rss, store.memory().in_use_bytes
    print(f"before the load: RSS {rss / 2**20:.0f} MiB, VmHWM {peak() / 2**20:.0f} MiB")
    started = time.monotonic()
    store.version(account)
    with store.snapshot(account) as state:
        for rows in state.tables.values():
            lay_out = getattr(rows, "timelines", None)
            if lay_out is not None:
                lay_out()  # the timelines are written into their arrays on first read
    took = time.monotonic() - started
    gc.collect()
    return store.memory().in_use_bytes - held, process.memory_info().rss - rss, took


def peak() -> int:
    """The process's peak resident size so far (Linux: VmHWM), in bytes; 0 elsewhere."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the 1/100 day")
    parser.add_argument("--small", type=int, default=5, help="small accounts to load")
    args = parser.parse_args()
    data = prepare(QUICK if args.quick else FULL, CACHE)
    accounts = [data.large, *data.small[: args.small]]
    path = CACHE / f"memory-{data.dir.name}-{args.small}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        write(data, f"sqlite:///{partial}", set(accounts))
        partial.rename(path)  # closed: its log is checkpointed into it
    store = open_store(url, fixed_clock(data.now_ms), tables_of(), memory_bytes=UNCAPPED)
    try:
        for account in accounts:
            estimate, grown, took = load(store, account)
            print(
                f"{account}: estimate {estimate / 2**20:.1f} MiB, "
                f"RSS growth {grown / 2**20:.1f} MiB, load {took:.2f} s, "
                f"process peak so far (VmHWM) {peak() / 2**20:.0f} MiB"
            )
    finally:
        store.close()


if __name__ == "__main__":
    main()
