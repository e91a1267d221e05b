"""The "standard day": simulated events, pre-encoded ingest batches and the peer's database.

Everything is generated relative to one pinned instant, :data:`NOW_MS`, with fixed seeds,
so the same scale always gives the same bytes. The result is cached under
``bench/.cache/<scale>-<hash>/`` (git-ignored) and re-used by later runs.

Files of a prepared data set:

- ``batches.jsonl``: one ingest batch per line (a JSON array of at most 1000 events),
  all accounts, ordered by the time of each batch's first event (like a live feed);
  ``batches.accounts`` names the account of each line.
- ``batches-dup.jsonl`` / ``batches-dup.accounts``: the same events again, but every
  batch holds 900 new events and 100 re-sent ones (10% duplicates), see :func:`_dup_batches`.
- ``peer.duckdb``: the raw events, one row each, for the naive peer.
- ``meta.json``: counts and the pinned now.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import orjson

from engactivity.simulate import DAY_MS, SimConfig, generate_events

NOW_MS = 1_795_536_150_000
"""2026-11-24 16:02:30 UTC: the pinned now of every server of the run (mid-bucket, after
the afternoon peak, so the last 24 h hold a whole daily curve)."""

DATA_VERSION = 1
"""Bump when the generated files change meaning, to invalidate old caches."""

BATCH_SIZE = 1000
DUP_SHARE_PER_BATCH = 100
"""In the duplicates run, re-sent events per batch of 1000 (900 new + 100 re-sent)."""
DUP_RECENT_EVENTS = 10_000
"""Re-sent events are drawn from the account's last this-many already-sent events."""

EVENTS_PER_CHAT = 0.08 * 1 + 0.92 * 2
"""Abandoned chats (8% by default) have one event, the others a connected and a closed."""

LARGE_SEED = 1
SMALL_SEED_BASE = 1000

Log = Callable[[str], None]


@dataclass(frozen=True)
class Scale:
    """How big the standard day is."""

    name: str
    large_agents: int
    large_skills: int
    large_events: int
    small_accounts: int
    small_agents: int
    small_skills: int
    small_events: int

    def rate(self, events_per_day: int) -> float:
        """The simulator's chats/minute for about ``events_per_day`` events in 24 h."""
        return events_per_day / (1440 * EVENTS_PER_CHAT)


FULL = Scale("full", 2000, 200, 1_200_000, 200, 20, 5, 5000)
QUICK = Scale("quick", 20, 2, 12_000, 2, 20, 5, 5000)
"""1/100 of the full day: 1/100 of the large account and of the number of small ones."""

LARGE_ACCOUNT = "10000001"


def small_account(i: int) -> str:
    return f"{20000001 + i}"


@dataclass(frozen=True)
class Dataset:
    dir: Path
    scale: Scale
    now_ms: int
    large: str
    small: list[str]
    events: int
    """Distinct events of the standard day (all accounts)."""
    events_large: int
    batches: int
    dup_sent: int
    """Events sent in the duplicates run (new + re-sent)."""
    dup_duplicates: int
    dup_batches: int

    @property
    def peer_db(self) -> Path:
        return self.dir / "peer.duckdb"

    def batch_files(self, dup: bool) -> tuple[Path, Path]:
        stem = "batches-dup" if dup else "batches"
        return self.dir / f"{stem}.jsonl", self.dir / f"{stem}.accounts"


def _key(scale: Scale) -> str:
    raw = json.dumps([DATA_VERSION, NOW_MS, BATCH_SIZE, DUP_SHARE_PER_BATCH, asdict(scale)])
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def prepare(scale: Scale, cache_root: Path, log: Log = print) -> Dataset:
    """The data set of ``scale``, from the cache or generated now."""
    target = cache_root / f"{scale.name}-{_key(scale)}"
    meta_path = target / "meta.json"
    if meta_path.exists():
        log(f"data: cached in {target}")
        return _load(target, scale)
    started = time.monotonic()
    log(f"data: generating the {scale.name} standard day into {target} ...")
    work = cache_root / f".{target.name}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    meta = _generate(scale, work, log)
    (work / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    log(f"data: generated in {time.monotonic() - started:.0f} s")
    return _load(target, scale)


def _load(target: Path, scale: Scale) -> Dataset:
    meta = json.loads((target / "meta.json").read_text())
    return Dataset(
        dir=target,
        scale=scale,
        now_ms=meta["now_ms"],
        large=meta["large"],
        small=meta["small"],
        events=meta["events"],
        events_large=meta["events_large"],
        batches=meta["batches"],
        dup_sent=meta["dup_sent"],
        dup_duplicates=meta["dup_duplicates"],
        dup_batches=meta["dup_batches"],
    )


Batch = tuple[int, str, bytes]
"""(time of the first event, account, JSON array body)."""


def _accounts(scale: Scale) -> list[tuple[str, SimConfig]]:
    out = [
        (
            LARGE_ACCOUNT,
            SimConfig(
                account=LARGE_ACCOUNT,
                agents=scale.large_agents,
                skills=scale.large_skills,
                rate=scale.rate(scale.large_events),
                seed=LARGE_SEED,
                duplicate_share=0.0,
            ),
        )
    ]
    for i in range(scale.small_accounts):
        account = small_account(i)
        out.append(
            (
                account,
                SimConfig(
                    account=account,
                    agents=scale.small_agents,
                    skills=scale.small_skills,
                    rate=scale.rate(scale.small_events),
                    seed=SMALL_SEED_BASE + i,
                    duplicate_share=0.0,
                ),
            )
        )
    return out


def _array(parts: list[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"


def _clean_batches(account: str, times: list[int], encoded: list[bytes]) -> Iterable[Batch]:
    for start in range(0, len(encoded), BATCH_SIZE):
        yield times[start], account, _array(encoded[start : start + BATCH_SIZE])


def _dup_batches(account: str, times: list[int], encoded: list[bytes]) -> Iterable[Batch]:
    """Batches of 900 new events plus 100 re-sent ones (10% of what is sent).

    The re-sent events are drawn (seeded, with replacement) from the account's last
    :data:`DUP_RECENT_EVENTS` already-sent events; the account's first batch, with
    nothing sent before it, re-sends events of its own (a duplicate within the batch).
    They are inserted at random places among the new events.
    """
    rng = random.Random(f"engactivity-bench-dup:{account}")
    new_per_batch = BATCH_SIZE - DUP_SHARE_PER_BATCH
    for start in range(0, len(encoded), new_per_batch):
        items = encoded[start : start + new_per_batch]
        count = round(len(items) * DUP_SHARE_PER_BATCH / new_per_batch)
        low, high = (max(0, start - DUP_RECENT_EVENTS), start) if start else (0, len(items))
        picks = [encoded[low + rng.randrange(high - low)] for _ in range(count)]
        mixed = list(items)
        for pick in picks:
            mixed.insert(rng.randrange(len(mixed) + 1), pick)
        yield times[start], account, _array(mixed)


def _write_batches(batches: list[Batch], body_path: Path, accounts_path: Path) -> None:
    batches.sort(key=lambda b: (b[0], b[1]))
    with body_path.open("wb") as bodies, accounts_path.open("w") as accounts:
        for _, account, body in batches:
            bodies.write(body + b"\n")
            accounts.write(account + "\n")


_PEER_SCHEMA = """
CREATE TABLE raw (
    seq BIGINT, account VARCHAR, event_id VARCHAR, type VARCHAR, time BIGINT,
    skill BIGINT, has_agent BOOLEAN, agent BIGINT, interactive BOOLEAN, handling_time BIGINT
)
"""


def _peer_rows(account: str, first_seq: int, events: list[dict[str, object]]) -> dict[str, object]:
    n = len(events)
    agents = [e.get("agentId") for e in events]
    return {
        "seq": np.arange(first_seq, first_seq + n, dtype=np.int64),
        "account": np.array([account] * n, dtype=object),
        "event_id": np.array([e["eventId"] for e in events], dtype=object),
        "type": np.array([e["type"] for e in events], dtype=object),
        "time": np.array([e["time"] for e in events], dtype=np.int64),
        "skill": np.array([e.get("skillId", -1) for e in events], dtype=np.int64),
        "has_agent": np.array([a is not None for a in agents], dtype=bool),
        "agent": np.array([0 if a is None else a for a in agents], dtype=np.int64),
        "interactive": np.array([bool(e.get("interactive", False)) for e in events], dtype=bool),
        "handling_time": np.array([e.get("handlingTime", 0) for e in events], dtype=np.int64),
    }


def _generate(scale: Scale, work: Path, log: Log) -> dict[str, object]:
    start_ms = NOW_MS - DAY_MS
    clean: list[Batch] = []
    dup: list[Batch] = []
    con = duckdb.connect(str(work / "peer.duckdb"))
    con.execute(_PEER_SCHEMA)
    total = total_large = dup_sent = dup_duplicates = 0
    accounts = _accounts(scale)
    for number, (account, config) in enumerate(accounts):
        events = list(generate_events(config, start_ms, NOW_MS))
        encoded = [orjson.dumps(e) for e in events]
        times = [int(e["time"]) for e in events]  # type: ignore[call-overload]
        clean.extend(_clean_batches(account, times, encoded))
        for batch in _dup_batches(account, times, encoded):
            dup.append(batch)
            sent = batch[2].count(b'"eventId"')
            dup_sent += sent
        rows = _peer_rows(account, total, events)  # noqa: F841 (scanned by DuckDB by name)
        con.execute("INSERT INTO raw SELECT * FROM rows")
        total += len(events)
        if number == 0:
            total_large = len(events)
            log(f"data: large account {account}: {len(events)} events")
    dup_duplicates = dup_sent - total
    log(f"data: {len(accounts) - 1} small accounts; {total} events in all")
    # The naive peer keeps raw events as they arrived (first delivery of an id wins).
    con.execute(
        """
        CREATE TABLE events AS
        SELECT account, event_id, type, time, skill,
               CASE WHEN has_agent THEN agent END AS agent,
               CASE WHEN type = 'closed' THEN interactive END AS interactive,
               handling_time
        FROM raw
        QUALIFY row_number() OVER (PARTITION BY account, event_id ORDER BY seq) = 1
        ORDER BY time, seq
        """
    )
    con.execute("DROP TABLE raw")
    con.execute("CHECKPOINT")
    con.close()
    _write_batches(clean, work / "batches.jsonl", work / "batches.accounts")
    _write_batches(dup, work / "batches-dup.jsonl", work / "batches-dup.accounts")
    return {
        "now_ms": NOW_MS,
        "large": LARGE_ACCOUNT,
        "small": [a for a, _ in accounts[1:]],
        "events": total,
        "events_large": total_large,
        "batches": len(clean),
        "dup_sent": dup_sent,
        "dup_duplicates": dup_duplicates,
        "dup_batches": len(dup),
        "scale": asdict(scale),
    }
