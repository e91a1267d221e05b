"""Where the time of an answer goes right after a write: an in-process profile (not a test).

Loads the standard day's accounts the shapes ask about (bench/data.py's batches) into
in-memory account states, then for each shape loops "apply one small write, answer the
shape" the way the server's answer path does (``read`` under the account's lock, then
``render``, with the fragment cache) but without HTTP, and reports microseconds per
answer (p50) and, with ``--profile``, a cProfile top list per shape.

The write is the benchmark's (bench/run.py ``Writer``): a ``connected`` with a wait and a
group, a ``queueState`` repeating a skill's newest sample and an ``agentState``. With
``--where next`` (the benchmark's) it is dated in the bucket after now, outside every
span; with ``--where now`` (the default: a live account's writes) it is dated just
before now, in the newest bucket of every span, so the answer itself moves.

With ``--clock-step-ms N`` the clock moves N ms before each write, as in life (agent
activity's window ends at now: every answer is of another moment). With
``--late-min M`` the agent state is dated M minutes before now: a producer running
late, whose events land in past intervals.

Run: ``python -m bench.profile_live --data DIR [--shapes SLA1,QH3] [--profile]
[--clock-step-ms 37] [--late-min 30]`` (DIR: a prepared data set, e.g.
bench/.cache/quick-<key>).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.data import QUICK, _load
from bench.run import Query, queries
from engactivity.api.answers import _AccountFragments
from engactivity.api.cache import AnswerCache
from engactivity.core.events import Event, decode_plain_batch
from engactivity.core.timeframe import BUCKET_MS, MINUTE_MS
from engactivity.interpreter import settle_after_startup
from engactivity.methods import METHODS, tables_of
from engactivity.methods.method import AnyMethod
from engactivity.store.memory import AccountState
from engactivity.store.tables import fold_all

TABLES = tables_of()
BY_NAME = {method.name: method for method in METHODS}


def load(data_dir: Path, accounts: set[str]) -> dict[str, AccountState]:
    """The accounts' states after every batch of the standard day."""
    states = {account: AccountState(TABLES) for account in accounts}
    names = (data_dir / "batches.accounts").read_text().split()
    with (data_dir / "batches.jsonl").open("rb") as bodies:
        for account, body in zip(names, bodies, strict=True):
            state = states.get(account)
            if state is None:
                continue
            events = decode_plain_batch(body.rstrip(b"\n"), 2**62)
            assert events is not None, "the standard day's batches are plain"
            with state.lock:
                state.apply([deltas.items() for deltas in fold_all(TABLES, events)])
    return states


class Writes:
    """The benchmark's write, numbered so that every event is new."""

    def __init__(self, now_ms: int, where: str, late_ms: int = 0) -> None:
        """``late_ms``: how long before now the agent state is dated (0: at now)."""
        after = (now_ms // BUCKET_MS + 1) * BUCKET_MS + 1000
        self.time_ms = after if where == "next" else now_ms - 1000
        self.now_ms = now_ms
        self.late_ms = late_ms
        self.count = 0

    def apply(self, state: AccountState) -> None:
        self.count += 1
        sample = _newest_sample(state)
        events: list[dict[str, Any]] = [
            {"eventId": f"p-c-{self.count}", "type": "connected", "time": self.time_ms,
             "skillId": 1, "agentId": 1001, "waitTime": 12, "agentGroupId": 1},
            {"eventId": f"p-a-{self.count}", "type": "agentState", "agentId": 1001,
             "time": self.now_ms - self.late_ms, "state": "online"},
        ]  # fmt: skip
        if sample is not None:
            events.append(
                {"eventId": f"p-q-{self.count}", "type": "queueState", "time": self.time_ms,
                 "skillId": sample[0], "queueSize": sample[1], "availableSlots": sample[2]}
            )  # fmt: skip
        decoded: list[Event] | None = decode_plain_batch(orjson.dumps(events), self.now_ms)
        assert decoded is not None
        with state.lock:
            state.apply([deltas.items() for deltas in fold_all(TABLES, decoded)])


def _newest_sample(state: AccountState) -> tuple[int, int, int] | None:
    samples = state.tables["queue_sample"].samples  # type: ignore[union-attr]
    if not samples:
        return None
    key = min(samples)
    return key[0], samples[key][2], samples[key][3]


def answerer(method: AnyMethod, query: Any) -> Callable[[AccountState, int], bytes]:
    """One answer as api/answers.py computes it (its fragment cache kept across calls)."""
    cache: AnswerCache[Any] = AnswerCache(256 << 20)
    fragments = _AccountFragments(cache, method.name)

    def answer(state: AccountState, now_ms: int) -> bytes:
        plan = method.plan(query, now_ms)
        with state.lock:
            reading = method.read(query, plan, state, fragments)
        return method.render(query, plan, reading, fragments)

    return answer


def measure(
    q: Query, state: AccountState, writes: Writes, runs: int, profile: bool, step_ms: int
) -> None:
    """``step_ms``: how far the clock moves before each write (0: pinned)."""
    method = BY_NAME[q.method]
    query = method.parse(dict(urllib.parse.parse_qsl(f"{q.params}&v=1")))
    answer = answerer(method, query)
    answer(state, writes.now_ms)  # the first answer fills the fragment cache
    times: list[float] = []
    for _ in range(runs):
        writes.now_ms += step_ms
        writes.apply(state)
        started = time.thread_time()
        body = answer(state, writes.now_ms)
        times.append(time.thread_time() - started)
    # What was kept must not change the answer: one made without any kept parts.
    same = body == answerer(method, query)(state, writes.now_ms)
    print(
        f"{q.name:5} {1e6 * statistics.median(times):10.0f} us  {len(body):>10,} B"
        f"  {'same as afresh' if same else 'DIFFERS FROM AN ANSWER MADE AFRESH'}"
    )
    if profile:  # as many runs again, under the profiler (it slows them down)
        profiler = cProfile.Profile()
        for _ in range(runs):
            writes.now_ms += step_ms
            writes.apply(state)
            profiler.runcall(answer, state, writes.now_ms)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        print("\n".join(out.getvalue().splitlines()[6:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--shapes", default="")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--where", choices=("now", "next"), default="now")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--clock-step-ms", type=int, default=0, help="moves the clock before each write (0: pinned)"
    )
    parser.add_argument(
        "--late-min",
        type=int,
        default=0,
        help="dates the write's agent state this many minutes before now (a late event)",
    )
    args = parser.parse_args()
    data = _load(args.data, QUICK)  # the scale is only a label here
    wanted = set(filter(None, args.shapes.split(",")))
    shapes = [q for q in queries(data) if not wanted or q.name in wanted]
    started = time.perf_counter()
    states = load(args.data, {q.account for q in shapes})
    print(f"loaded {len(states)} accounts in {time.perf_counter() - started:.1f} s")
    settle_after_startup()  # the server's garbage collection settings
    for q in shapes:
        writes = Writes(data.now_ms, args.where, args.late_min * MINUTE_MS)
        measure(q, states[q.account], writes, args.runs, args.profile, args.clock_step_ms)


if __name__ == "__main__":
    main()
