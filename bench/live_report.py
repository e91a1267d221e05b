"""The live benchmark's figures (:func:`summarize`) and its report section (:func:`render`)."""

from __future__ import annotations

from typing import Any

from bench.live_clients import MARKED, POLL_PERIOD_S, Record, freshness
from bench.sections import LIVE
from bench.stats import percentile

METHODS = ("engactivity", "queuehealth", "queuestate", "sla", "agentactivity")


def latency(rec: Record) -> dict[str, dict[str, float]]:
    return {
        method: {
            "answers": len(times),
            "p50_ms": 1000 * percentile(times, 50),
            "p99_ms": 1000 * percentile(times, 99),
            "errors": rec.errors.get(method, 0),
        }
        for method in METHODS
        if (times := rec.latencies.get(method))
    }


def fresh(rec: Record, prefix: str) -> dict[str, Any]:
    """Freshness over every (marker, client) pair of the clients named ``prefix...``, and
    its p99 per question (a client's name ends with ``:<question>``)."""
    lags: list[float] = []
    by_question: dict[str, list[float]] = {}
    missed = clients = 0
    for name, answers in rec.answers.items():
        if name.startswith(prefix):
            clients += 1
            got, lost = freshness(rec.acks, answers)
            lags += got
            by_question.setdefault(name.partition(":")[2], []).extend(got)
            missed += lost
    out: dict[str, Any] = {"clients": clients, "samples": len(lags), "missed": missed}
    if lags:
        out |= {"p50_ms": 1000 * percentile(lags, 50), "p99_ms": 1000 * percentile(lags, 99)}
        out["p99_ms_by_question"] = {
            q: 1000 * percentile(got, 99) for q, got in sorted(by_question.items()) if got
        }
    return out


def _resent(live: dict[str, Any]) -> str:
    """The batches sent again after a failed connection, when there were any."""
    n = live.get("resent", 0)
    return f" ({n} of them sent again after their connection failed)" if n else ""


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    live = dict(raw["live"])
    rec: Record = live.pop("record")
    answers = rec.polled + rec.pushed
    live |= {
        "client_cpu_share": live["client_cpu_s"] / live["seconds"],
        "polled": rec.polled,
        "pushed": rec.pushed,
        "cpu_ms_per_answer": 1000 * live["server_cpu_s"] / answers if answers else None,
        "produced": rec.produced,
        "produce_batches": rec.produce_batches,
        "resent": rec.resent,
        "markers": len(rec.acks),
        "push": not rec.push_unsupported,
        "streams_refused": rec.streams_refused,
        "latency": latency(rec),
        "freshness": {"pollers": fresh(rec, "poll"), "subscribers": fresh(rec, "sub")},
    }
    failures = list(raw["failures"])
    if errors := sum(rec.errors.values()):
        kinds = ", ".join(f"{m}: {kind} x{n}" for (m, kind), n in sorted(rec.error_kinds.items()))
        failures.append(f"ours: {errors} polls failed ({kinds})")
    for who in ("pollers", "subscribers"):
        if missed := live["freshness"][who]["missed"]:
            failures.append(f"{who}: {missed} (marker, client) pairs no answer showed")
    if not live["freshness"]["pollers"]["samples"]:
        failures.append("no poller saw a marker")
    return {
        "ingest": raw["ingest"],
        "peak": raw["peak"],
        "live": live,
        "peer": {"latency": latency(raw["peer"])},
        "floor": {"latency": latency(raw["floor"])},
        "marked": list(MARKED),
        "failures": failures,
    }


def _clients(live: dict[str, Any]) -> str:
    """Where the clients ran (a run before the wallboards had processes of their own
    ran them all in one)."""
    processes = live.get("client_processes", 1)
    if processes == 1:
        return "one asyncio process"
    return f"{processes} asyncio processes: the writers in one, the wallboards in the others"


def _ms(entry: dict[str, Any] | None, key: str) -> str:
    return "-" if entry is None or key not in entry else f"{entry[key]:.1f}"


def _latency_rows(results: dict[str, Any]) -> list[str]:
    ours, peer, floor = (results[k]["latency"] for k in ("live", "peer", "floor"))
    ours = results["live"]["latency"]
    rows = [
        "| method | answers (ours) | ours p50 | ours p99 | peer p50 | peer p99 "
        "| floor p50 | floor p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for method in METHODS:
        o, p, f = ours.get(method), peer.get(method), floor.get(method)
        count = "-" if o is None else str(o["answers"])
        rows.append(
            f"| {method} | {count} | {_ms(o, 'p50_ms')} | {_ms(o, 'p99_ms')} "
            f"| {_ms(p, 'p50_ms')} | {_ms(p, 'p99_ms')} | {_ms(f, 'p50_ms')} | {_ms(f, 'p99_ms')} |"
        )
    return rows


def _freshness_rows(live: dict[str, Any]) -> list[str]:
    rows = ["| wallboards | p50 | p99 | (marker, wallboard) pairs | not shown |"]
    rows.append("| --- | ---: | ---: | ---: | ---: |")
    for who, label in (("pollers", "100 polling every 5 s"), ("subscribers", "100 subscribed")):
        f = live["freshness"][who]
        if who == "subscribers" and not live["push"]:
            rows.append(f"| {label} | no push on this server | | | |")
            continue
        p50, p99 = _ms(f, "p50_ms"), _ms(f, "p99_ms")
        rows.append(f"| {label} | {p50} ms | {p99} ms | {f['samples']} | {f['missed']} |")
    by_question = live["freshness"]["subscribers"].get("p99_ms_by_question")
    if live["push"] and by_question:
        each = ", ".join(f"{q} {ms:,.0f} ms" for q, ms in by_question.items())
        rows += ["", f"Subscribers' p99 by question: {each}."]
    return rows


def render(results: dict[str, Any]) -> str:
    live, peak = results["live"], results["peak"]
    mb = 1024**2
    rss = (live["memory_start"]["VmRSS"] / mb, live["memory_end"]["VmRSS"] / mb)
    per_answer = live["cpu_ms_per_answer"]
    lines = [
        LIVE.start,
        "## Live: a contact center at its peak",
        "",
        f"{results['mode'].capitalize()} run of {results['date']} (`{results['command']}`, "
        f"{live['seconds']:.0f} s; {results['machine']['nproc']} cores shared by the "
        "servers and the clients). The standard day in our server (SQLite, its clock "
        f"running from the day's now); producers replaying the day's busiest minute "
        f"({peak['events']} events over all accounts, {peak['per_s']:.1f} events/s) "
        f"with new ids, dated now: {live['produced']} events in {live['produce_batches']} "
        f"batches{_resent(live)}. On the large account, 100 wallboards poll every "
        f"{POLL_PERIOD_S:.0f} s "
        "(staggered) and 100 follow event streams, the benchmark's 19 questions rotated "
        "among each hundred (16 of them of the large account, Q7, QH4 and QS2 of a small one).",
        "",
        *_latency_rows(results),
        "",
        "Milliseconds, per poll, from the pollers' client. The naive peer has no ingest path: "
        "it is polled on the static day by the same 100 pollers, after ours, and the floor "
        "likewise (its latency plus the encoding time of each answer, as in "
        "[Queries](#queries)); so neither shares the CPU with ours while measured.",
        "",
        "**Freshness**: from the acknowledgement of a marker batch (one a second: a "
        "`connected` and a `queueState` on a skill of its own) to the first answer, polled "
        f"or pushed, that shows it; on the questions that show it ({', '.join(results['marked'])}"
        ": the marker skill's connected count or current queue size).",
        "",
        *_freshness_rows(live),
        "",
        f"**CPU**: {live['server_cpu_s']:.1f} s of the server for {live['polled']} polled and "
        f"{live['pushed']} pushed answers, "
        + ("-" if per_answer is None else f"{per_answer:.2f} ms")
        + " per answer (the producers' ingest included). The clients "
        f"({_clients(live)}) used {100 * live['client_cpu_share']:.0f}% of a core. "
        f"**Memory** (RSS) of the server: {rss[0]:.0f} MB at the start, {rss[1]:.0f} MB at "
        "the end.",
        *_failures(results),
        LIVE.end,
    ]
    return "\n".join(lines) + "\n"


def _failures(results: dict[str, Any]) -> list[str]:
    """What the run's checks found (a failed poll: an error status or no answer in 60 s)."""
    failures = results.get("failures") or []
    return ["", f"**This run failed its checks**: {'; '.join(failures)}."] if failures else []
