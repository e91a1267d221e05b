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
- ``peer.duckdb``: the raw events, one row each, every type and every field the peer
  reads, for the naive peer.
- ``meta.json``: counts (per event type too), the pinned now, the simulator options the
  day was generated with, the agent groups the SLA query filters on and the agents the
  agent activity queries with a list name.

The events are whatever :func:`engactivity.simulate.generate_events` makes: the harness
stores and sends every type. The cache key includes a hash of the simulator's source, so
a changed simulator gives a new data set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from engactivity import simulate
from engactivity.simulate import DAY_MS, SimConfig, generate_events

NOW_MS = 1_795_536_150_000
"""2026-11-24 16:02:30 UTC: the pinned now of every server of the run (mid-bucket, after
the afternoon peak, so the last 24 h hold a whole daily curve)."""

DATA_VERSION = 3
"""Bump when the generated files change meaning, to invalidate old caches (2: the peer's
table holds every event type with the queue fields, meta.json counts types; 3: and the
agentState fields, meta.json names the agents of the agent list query)."""

BATCH_SIZE = 1000
DUP_SHARE_PER_BATCH = 100
"""In the duplicates run, re-sent events per batch of 1000 (900 new + 100 re-sent)."""
DUP_RECENT_EVENTS = 10_000
"""Re-sent events are drawn from the account's last this-many already-sent events."""

EVENTS_PER_CHAT = 0.08 * 1 + 0.92 * 2
"""Engagement activity events per chat: abandoned chats (8% by default) have a closed,
the others a connected and a closed. A scale's event counts are of these two types, which
set the chat rate; the queue events (queued, abandoned, queueState) come on top."""

QUEUE_STATE_PERIOD_S = 60
"""How often the standard day samples each skill's queue (``queueState``), when the
simulator lets the data set choose (a :class:`SimConfig` field, see :func:`sim_options`).
Once a minute is what EVENTS.md asks of producers at least; every few seconds would make
the large account's 200 skills alone millions of samples a day."""

SLA_GROUPS = 3
"""The SLA query with ``groupIds`` names the large account's this-many busiest groups."""
AGENT_LIST = 20
"""The agent activity query with a list names this many of the large account's agents."""
AGENT_LONG_LIST = 500
"""The agent activity query sent by POST names this many (a list too long for a URL)."""

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
        """The simulator's chats/minute for about ``events_per_day`` engagement activity
        events (connected and closed) in 24 h."""
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
    types: dict[str, int]
    """Events per type, all accounts."""
    types_large: dict[str, int]
    sla_groups: list[int]
    """The large account's busiest agent groups (``[-1]`` when its chats have none)."""
    agent_list: list[int]
    """:data:`AGENT_LIST` agents of the large account, spread over its ids."""
    agent_long_list: list[int]
    """:data:`AGENT_LONG_LIST` agents of the large account, spread over its ids."""
    sim_options: dict[str, Any]
    """The :class:`SimConfig` fields set beyond the basics (e.g. the queueState period)."""

    @property
    def peer_db(self) -> Path:
        return self.dir / "peer.duckdb"

    def batch_files(self, dup: bool) -> tuple[Path, Path]:
        stem = "batches-dup" if dup else "batches"
        return self.dir / f"{stem}.jsonl", self.dir / f"{stem}.accounts"


def sim_options() -> dict[str, Any]:
    """The :class:`SimConfig` fields the standard day sets beyond agents, skills, rate and
    seed, among those the simulator has: the queueState sampling period (a field whose name
    holds ``queue`` and ``state`` or ``sample``, and ends in ``_s`` or ``_ms``, e.g.
    ``queue_state_period_s``) at :data:`QUEUE_STATE_PERIOD_S`. Without such a field the
    simulator's own default applies (the report says so)."""
    options: dict[str, Any] = {}
    for field in dataclasses.fields(SimConfig):
        name = field.name.lower()
        if "queue" not in name or ("state" not in name and "sample" not in name):
            continue
        if name.endswith("_ms"):
            options[field.name] = QUEUE_STATE_PERIOD_S * 1000
        elif name.endswith("_s") or name.endswith("_seconds"):
            options[field.name] = QUEUE_STATE_PERIOD_S
    return options


def _simulator_hash() -> str:
    """The simulator's source, every module of the package: a changed simulator makes new
    data (its ``__init__`` alone would miss changes of the model)."""
    digest = hashlib.sha256()
    for path in sorted(Path(inspect.getfile(simulate)).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _key(scale: Scale) -> str:
    raw = json.dumps(
        [
            DATA_VERSION,
            NOW_MS,
            BATCH_SIZE,
            DUP_SHARE_PER_BATCH,
            asdict(scale),
            sim_options(),
            _simulator_hash(),
        ],
        sort_keys=True,
    )
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
        types=meta["types"],
        types_large=meta["types_large"],
        sla_groups=meta["sla_groups"],
        agent_list=meta["agent_list"],
        agent_long_list=meta["agent_long_list"],
        sim_options=meta["sim_options"],
    )


Batch = tuple[int, str, bytes]
"""(time of the first event, account, JSON array body)."""


def _accounts(scale: Scale) -> list[tuple[str, SimConfig]]:
    options = sim_options()
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
                **options,
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
                    **options,
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
    skill BIGINT, has_agent BOOLEAN, agent BIGINT, interactive BOOLEAN, handling_time BIGINT,
    has_wait BOOLEAN, wait_time BIGINT, has_group BOOLEAN, group_id BIGINT,
    queue_size BIGINT, available_slots BIGINT,
    state VARCHAR, reason_id VARCHAR, active_chats BIGINT, has_max BOOLEAN, max_chats BIGINT
)
"""


def _optional(events: list[dict[str, object]], field: str) -> tuple[np.ndarray, np.ndarray]:
    """(present, value or 0) columns of an optional integer field (null is absent)."""
    values = [e.get(field) for e in events]
    present = np.array([v is not None for v in values], dtype=bool)
    return present, np.array([0 if v is None else v for v in values], dtype=np.int64)


def _peer_rows(account: str, first_seq: int, events: list[dict[str, object]]) -> dict[str, object]:
    n = len(events)
    has_agent, agent = _optional(events, "agentId")
    has_wait, wait = _optional(events, "waitTime")
    has_group, group = _optional(events, "agentGroupId")
    skills = [e.get("skillId") for e in events]
    has_max, max_chats = _optional(events, "maxChats")
    return {
        "seq": np.arange(first_seq, first_seq + n, dtype=np.int64),
        "account": np.array([account] * n, dtype=object),
        "event_id": np.array([e["eventId"] for e in events], dtype=object),
        "type": np.array([e["type"] for e in events], dtype=object),
        "time": np.array([e["time"] for e in events], dtype=np.int64),
        "skill": np.array([-1 if s is None else s for s in skills], dtype=np.int64),
        "has_agent": has_agent,
        "agent": agent,
        "interactive": np.array([bool(e.get("interactive", False)) for e in events], dtype=bool),
        "handling_time": np.array([e.get("handlingTime") or 0 for e in events], dtype=np.int64),
        "has_wait": has_wait,
        "wait_time": wait,
        "has_group": has_group,
        "group_id": group,
        "queue_size": np.array([e.get("queueSize") or 0 for e in events], dtype=np.int64),
        "available_slots": np.array([e.get("availableSlots") or 0 for e in events], dtype=np.int64),
        "state": np.array([e.get("state") for e in events], dtype=object),
        "reason_id": np.array([_text(e.get("reasonId")) for e in events], dtype=object),
        "active_chats": np.array([e.get("activeChats") or 0 for e in events], dtype=np.int64),
        "has_max": has_max,
        "max_chats": max_chats,
    }


def _text(value: object) -> str | None:
    """A reason id as the service keeps it: an integer means its decimal string."""
    return None if value is None else str(value)


def peer_table_start(con: duckdb.DuckDBPyConnection) -> None:
    """Begin the peer's table (:func:`peer_table_add` events, then :func:`peer_table_end`)."""
    con.execute(_PEER_SCHEMA)


def peer_table_add(
    con: duckdb.DuckDBPyConnection, account: str, first_seq: int, events: list[dict[str, object]]
) -> None:
    """Add an account's events, as delivered (``first_seq`` numbers the first)."""
    rows = _peer_rows(account, first_seq, events)  # noqa: F841 (scanned by DuckDB by name)
    con.execute("INSERT INTO raw SELECT * FROM rows")


def peer_table_end(con: duckdb.DuckDBPyConnection) -> None:
    """The peer's ``events``: raw events as they arrived (first delivery of an id wins)."""
    con.execute(
        """
        CREATE TABLE events AS
        SELECT account, event_id, type, time, skill,
               CASE WHEN has_agent THEN agent END AS agent,
               CASE WHEN type = 'closed' THEN interactive END AS interactive,
               handling_time,
               CASE WHEN has_wait THEN wait_time END AS wait_time,
               CASE WHEN has_group THEN group_id END AS group_id,
               CASE WHEN type = 'queueState' THEN queue_size END AS queue_size,
               CASE WHEN type = 'queueState' THEN available_slots END AS available_slots,
               CASE WHEN type = 'agentState' THEN state END AS state,
               CASE WHEN type = 'agentState' THEN reason_id END AS reason_id,
               CASE WHEN type = 'agentState' THEN active_chats END AS active_chats,
               CASE WHEN type = 'agentState' AND has_max THEN max_chats END AS max_chats
        FROM raw
        QUALIFY row_number() OVER (PARTITION BY account, event_id ORDER BY seq) = 1
        ORDER BY time, seq
        """
    )
    con.execute("DROP TABLE raw")


def _busiest_groups(events: list[dict[str, object]]) -> list[int]:
    """The ids of the :data:`SLA_GROUPS` groups with the most connected chats, ascending."""
    counts = Counter(
        e["agentGroupId"]
        for e in events
        if e["type"] == "connected" and e.get("agentGroupId") is not None
    )
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:SLA_GROUPS]
    return sorted(int(group) for group, _ in top) or [-1]  # type: ignore[call-overload]


def _spread(agents: list[int], count: int) -> list[int]:
    """``count`` of the sorted ``agents``, evenly spaced (all of them when fewer)."""
    if len(agents) <= count:
        return agents
    return [agents[i * len(agents) // count] for i in range(count)]


def _agents(events: list[dict[str, object]]) -> list[int]:
    """The agents with agentState events, ascending; those of any event when none has."""
    states = {e["agentId"] for e in events if e["type"] == "agentState"}
    agents = states or {e["agentId"] for e in events if e.get("agentId") is not None}
    return sorted(int(a) for a in agents)  # type: ignore[call-overload]


def _generate(scale: Scale, work: Path, log: Log) -> dict[str, object]:
    start_ms = NOW_MS - DAY_MS
    clean: list[Batch] = []
    dup: list[Batch] = []
    con = duckdb.connect(str(work / "peer.duckdb"))
    peer_table_start(con)
    total = total_large = dup_sent = dup_duplicates = 0
    types: Counter[str] = Counter()
    types_large: Counter[str] = Counter()
    sla_groups = [-1]
    agents: list[int] = []
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
        peer_table_add(con, account, total, events)
        total += len(events)
        types.update(str(e["type"]) for e in events)
        if number == 0:
            total_large = len(events)
            types_large.update(str(e["type"]) for e in events)
            sla_groups = _busiest_groups(events)
            agents = _agents(events)
            log(f"data: large account {account}: {len(events)} events {dict(types_large)}")
    dup_duplicates = dup_sent - total
    log(f"data: {len(accounts) - 1} small accounts; {total} events in all {dict(types)}")
    peer_table_end(con)
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
        "types": dict(sorted(types.items())),
        "types_large": dict(sorted(types_large.items())),
        "sla_groups": sla_groups,
        "agent_list": _spread(agents, AGENT_LIST),
        "agent_long_list": _spread(agents, AGENT_LONG_LIST),
        "sim_options": sim_options(),
        "scale": asdict(scale),
    }
