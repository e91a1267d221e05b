"""The two failures, each injected while producers send, each ending with exact totals.

A scenario runs the load for ``before`` seconds, injects the failure, waits ``during``
seconds, repairs (restarts the host, promotes the replica), runs ``after`` seconds
more, stops the producers (each finishes its batch in hand: every batch sent is
acknowledged in the end) and checks the totals.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.multihost.checks import check_answers, distinct, stored_ids
from bench.multihost.deployment import Deployment
from bench.multihost.producers import Event, Log, Prober, Producer
from bench.multihost.reader import Reader

Figures = dict[str, Any]
Acknowledged = dict[str, list[Event]]


@dataclass(frozen=True)
class Timing:
    before: float
    """Seconds of load before the failure."""
    during: float
    """Seconds from the failure to the repair (host restarted, replica promoted)."""
    after: float
    """Seconds of load after the repair."""


class Load:
    """``per_account`` producers for each account, a reader, and a /readyz prober."""

    def __init__(self, dep: Deployment, accounts: list[str], per_account: int, batch: int):
        self.log = Log()
        self.producers = [
            Producer(f"{account}-p{n}", dep.url, account, dep.tokens[account], batch, self.log)
            for account in accounts
            for n in range(per_account)
        ]
        self.prober = Prober(dep.url)
        self.reader = Reader(dep.url, dep.readers, accounts)

    def start(self) -> None:
        for thread in [*self.producers, self.prober, self.reader]:
            thread.start()

    def stop(self) -> None:
        for producer in self.producers:
            producer.stop()
        for producer in self.producers:
            producer.join()
        for thread in (self.prober, self.reader):
            thread.stopping.set()
            thread.join()

    def figures(self, failed_at: float, repaired_at: float) -> Figures:
        attempts = self.log.attempts
        acks = [a for a in attempts if a.status == 200]
        failed = [a for a in attempts if a.status != 200]
        sent = sum(len(events) for events in self.log.acknowledged.values())
        acknowledged = sum(distinct(events) for events in self.log.acknowledged.values())
        probes = self.prober.samples
        return {
            "events_acknowledged": acknowledged,
            "batches_acknowledged": len(acks),
            "events_delivered_again": sent - acknowledged,
            "resends": len(failed),
            "resends_by_status": dict(Counter(str(a.status) for a in failed)),
            "batches_never_acknowledged": self.log.unacknowledged,
            "readyz_failed": sum(1 for _, status in probes if status != 200),
            "reader": self.reader.figures(),
            # from the failure to the first good /readyz through the balancer
            "outage_s": _first_after([t for t, s in probes if s == 200], failed_at),
            # from the end of the repair to the first good /readyz
            "recovered_after_repair_s": _first_after(
                [t for t, s in probes if s == 200], repaired_at
            ),
            # from the failure to the first acknowledgement of a batch sent after it
            "first_ack_after_failure_s": _first_after(
                [a.ended for a in acks if a.started >= failed_at], failed_at
            ),
        }


def _first_after(times: list[float], since: float) -> float | None:
    later = [t for t in times if t >= since]
    return round(min(later) - since, 2) if later else None


def exactness(dep: Deployment, acknowledged: Acknowledged, accepted: int | None) -> Figures:
    """Every answer against the oracle, the stored ids and the acknowledgements' sum."""
    urls = [dep.url, dep.url] + [host.url for host in dep.api if host.process is not None]
    assert dep.clock is not None
    now_ms = dep.clock.freeze()
    problems, compared = check_answers(urls, dep.readers, acknowledged, now_ms)
    for host in dep.api:
        host.observe()
    rows = stored_ids(dep.pg[dep.primary], list(acknowledged))
    expected_rows = {account: distinct(events) for account, events in acknowledged.items()}
    if rows != expected_rows:
        problems.append(f"stored event ids {rows}, acknowledged distinct {expected_rows}")
    figures: Figures = {
        "totals_exact": not problems,
        "problems": problems[:20],
        "answers_compared": compared,
        "stored_ids": rows,
    }
    if accepted is not None:
        # Events stored by a delivery whose answer was lost (its host died after the
        # commit, or the commit's outcome was unknown): the resend found them stored
        # and answered "duplicates". Counted once all the same.
        figures["stored_before_answer_lost"] = sum(expected_rows.values()) - accepted
        if accepted > sum(expected_rows.values()):
            figures["totals_exact"] = False  # an event was newly accepted twice
            problems.append(f"'accepted' sums to {accepted}, distinct events {expected_rows}")
    return figures


def _run(
    dep: Deployment,
    load: Load,
    timing: Timing,
    fail: Callable[[], None],
    repair: Callable[[], None],
) -> Figures:
    assert dep.clock is not None
    dep.clock.run()  # frozen by the previous checks
    wall = [time.time()]
    load.start()
    time.sleep(timing.before)
    fail()
    # Measured from when the failure is complete (the process reaped, the postmaster
    # gone): what started before may still have been served.
    failed_at, wall_failed = time.monotonic(), time.time()
    time.sleep(timing.during)
    repair_started, wall_repair = time.monotonic(), time.time()
    repair()
    repaired_at = time.monotonic()
    time.sleep(timing.after)
    load.stop()
    wall += [wall_failed, wall_repair, time.time()]
    for host in dep.api:
        host.observe()
    figures = {"seconds": round(wall[-1] - wall[0], 1), **load.figures(failed_at, repaired_at)}
    figures["events_per_s"] = round(figures["events_acknowledged"] / figures["seconds"])
    figures["repair_took_s"] = round(repaired_at - repair_started, 2)
    assert dep.lb is not None
    figures["routed"] = {
        phase: dep.lb.routed(wall[n], wall[n + 1])
        for n, phase in enumerate(("before", "during", "after"))
    }
    # evictions so far, in each process running (api1's restart began a new count)
    figures["memory_at_end_of_load"] = {h.host: h.lives[-1] for h in dep.api}
    if load.log.failures:
        figures["producer_failures"] = load.log.failures[:5]
    return figures


def _judged(figures: Figures, load: Load, dep: Deployment) -> Figures:
    """The figures with the checks of exactness; a batch never acknowledged (or a
    producer's unexpected answer) leaves the outcome unknown: that fails the run too."""
    figures |= exactness(dep, load.log.acknowledged, load.log.accepted)
    if figures["batches_never_acknowledged"] or load.log.failures or load.reader.unexpected:
        figures["totals_exact"] = False
        figures["problems"].append(
            "batches left unacknowledged or refused, or a reader's unexpected answer: "
            "see the figures"
        )
    return figures


def host_killed(
    dep: Deployment, accounts: list[str], per_account: int, batch: int, timing: Timing
) -> tuple[Figures, Acknowledged]:
    """Scenario a: api1 SIGKILLed under load, restarted later; nginx routes around it."""
    load = Load(dep, accounts, per_account, batch)
    figures = _judged(_run(dep, load, timing, dep.api[0].kill, dep.api[0].start), load, dep)
    # the scenario happened: the balancer sent api1 nothing while it was dead, and
    # sent it requests again once it was back
    routed = figures["routed"]
    figures["failure_observed"] = bool(
        not routed["during"].get("served_by_api1") and routed["after"].get("served_by_api1")
    )
    return figures, load.log.acknowledged


def failover(
    dep: Deployment, accounts: list[str], per_account: int, batch: int, timing: Timing
) -> tuple[Figures, Acknowledged]:
    """Scenario b: the primary stopped (immediate), the replica promoted, under load."""
    load = Load(dep, accounts, per_account, batch)

    def promote() -> None:
        dep.pg[1].promote()
        dep.primary = 1

    def stop_primary() -> None:
        dep.pg[0].stop("immediate")

    figures = _judged(_run(dep, load, timing, stop_primary, promote), load, dep)
    figures["failure_observed"] = figures["readyz_failed"] > 0
    return figures, load.log.acknowledged
