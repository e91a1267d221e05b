"""The "At scale" section of ``benchmarks.md`` and its chart, from ``python -m bench.scale``.

The section sits between two markers (:mod:`bench.sections`): the scale run rewrites only
it, and ``make bench`` (:mod:`bench.report`), which rewrites the rest, keeps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.report import ms, num
from bench.sections import AT_SCALE

CHART = "benchmarks-scale.png"


def write(results: dict[str, Any], out: Path) -> None:
    chart(results, out.with_name(CHART))
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    out.write_text(AT_SCALE.splice(text, render(results)))


def mib(entries: list[dict[str, Any]]) -> float:
    """Resident MiB of a server's processes (summed)."""
    return sum(e.get("VmRSS", 0) for e in entries) / 2**20


def _servers(results: dict[str, Any]) -> list[str]:
    return list(results["steps"][0]["servers"]) if results["steps"] else []


def _gauge(metrics: dict[str, float], word: str, unit: float = 1) -> str:
    """The first /metrics sample whose name holds ``word`` (in ``unit``s), or "-"."""
    for name, value in metrics.items():
        if word in name.split("{")[0]:
            return num(value / unit)
    return "-"


def render(results: dict[str, Any]) -> str:
    servers = _servers(results)
    lines = [AT_SCALE.start, "## At scale", "", *_intro(results), *_stopped(results)]
    lines += _skipped(results)
    lines += [*_ingest(results, servers), "", *_cold(results, servers), ""]
    lines += [*_warm(results, servers), "", *_growth(results)]
    lines += ["", f"![latency and memory as the data grow]({CHART})", "", *_failures(results)]
    return "\n".join(lines).rstrip("\n") + "\n" + AT_SCALE.end + "\n"


def _stopped(results: dict[str, Any]) -> list[str]:
    """What a run stopped before its last step finished (it saves after each step)."""
    planned, done = results.get("steps_planned", []), len(results["steps"])
    if done >= len(planned):
        return []
    return [
        f"**Stopped** after {done} of its {len(planned)} steps (planned copies: "
        f"{', '.join(map(str, planned))}): the figures are those of the steps it finished.",
        "",
    ]


def _intro(results: dict[str, Any]) -> list[str]:
    m, day = results["machine"], results["day"]
    return [
        f"*{results['mode']} run of {results['date']}* (`{results['argv']}`, "
        f"{results['seconds'] / 60:.1f} min): {m['nproc']} cores ({m['cpu']}), "
        f"{m['memory_gib']:.0f} GiB, Python {m['python']}, load average "
        f"{m['loadavg'][0]:.1f} at the start (other work on the machine slows every "
        "figure); PostgreSQL, one server process (`serve --workers 1`).",
        "",
        f"The data are copies of the {day['scale']['name']} standard day ({day['events']:,} "
        f"events on {day['accounts']} accounts): copy *k* sends every batch of the day again "
        "for account *k* x 10^8 + *a*, so a copy is new accounts with the day's traffic "
        "(`bench/copies.py`). Each step ingests the new copies (all their accounts at once, "
        "4 senders, batches of 1,000) through the write API, then asks every new account "
        "once (Q1, account totals over 24 h: the *cold* answer, loaded from the store; each "
        "must equal the day's own account's, byte for byte), then times a few shapes "
        "repeated by one client on the newest copy's large and first small account "
        "(*warm*, wrk). Two servers answer on the same database, the first also taking "
        "the writes: *no cap* (`--memory-mb` at the machine's memory when the server has "
        f"the flag), and *cap* (`--memory-mb {results['cap_mb']}`). Resident memory is "
        "VmRSS of the process after the step's answers (the RSS columns), and of the "
        "writer after the ingest, before them: a PostgreSQL process keeps only the "
        "accounts it has answered for.",
        "",
        "Why copies, and why so few by default: copies need no new data and make every "
        "answer checkable against the day's; the issue's 20 standard days are 128 million "
        "events, about an hour of ingest at PostgreSQL's rate on 2 cores (85 minutes in "
        "all), so `make bench-scale` stops at 3 copies (15-20 minutes) and "
        "`make bench-scale STEPS=1,5,10,20` runs the 20. On PostgreSQL a process loads an "
        "account on first use, so its memory grows with the accounts it has answered for.",
        "",
    ]


def _ingest(results: dict[str, Any], servers: list[str]) -> list[str]:
    lines = [
        "| copies | accounts | events | database | accounts written in the step | ingest "
        "events/s | server CPU s per million | RSS no cap after the ingest | "
        + " | ".join(f"RSS {s}" for s in servers)
        + " |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in servers)
        + " |",
    ]
    before = 0
    for step in results["steps"]:
        ingest = step["ingest"]
        rss = [f"{mib(step['servers'][s]['rss']):,.0f} MiB" for s in servers]
        lines.append(
            f"| {step['copies']} | {step['accounts']:,} | {step['events']:,} "
            f"| {step['db_bytes'] / 2**20:,.0f} MiB | {step['accounts'] - before:,} "
            f"| {num(ingest['events_per_s'])} "
            f"| {num(ingest['cpu_s_per_million'], 1)} "
            f"| {mib(step['servers']['no cap']['rss_after_ingest']):,.0f} MiB | "
            + " | ".join(rss)
            + " |"
        )
        before = step["accounts"]
    return lines


def _skipped(results: dict[str, Any]) -> list[str]:
    return [f"**Skipped**: {s}.\n" for s in results["skipped"]]


def _failures(results: dict[str, Any]) -> list[str]:
    if not results["failures"]:
        return ["Every count was exact and every copy's answers equal the day's."]
    return ["**Checks that failed:**", "", *[f"- {f}" for f in results["failures"]]]


def _cold(results: dict[str, Any], servers: list[str]) -> list[str]:
    lines = [
        "Cold answers (each account's first query, over the accounts the step added) and "
        "the accounts in memory afterwards (`/metrics`, when the server reports them):",
        "",
        "| copies | server | large p50 | large max | small p50 | small p99 | accounts "
        "resident | loads | evictions | estimate in use (MiB) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in results["steps"]:
        for name in servers:
            entry = step["servers"][name]
            large, small = entry["cold"]["large"], entry["cold"]["small"]
            metrics = entry["metrics"]
            lines.append(
                f"| {step['copies']} | {name} | {ms(large['p50_ms'])} | {ms(large['max_ms'])} "
                f"| {ms(small['p50_ms'])} | {ms(small['p99_ms'])} "
                f"| {_gauge(metrics, 'resident')} | {_gauge(metrics, 'loads')} "
                f"| {_gauge(metrics, 'evict')} | {_gauge(metrics, 'in_use', 2**20)} |"
            )
    return lines


def _warm(results: dict[str, Any], servers: list[str]) -> list[str]:
    names = list(results["steps"][0]["servers"][servers[0]]["warm"]) if servers else []
    shapes = "; ".join(f"{s['name']} {s['method']} `{s['params']}`" for s in results["warm_shapes"])
    lines = [
        "Answers of a few shapes on the newest copy's large and first small account: the "
        "first (made afresh), then repeated by one client for "
        f"{results.get('warm_s', '?')} s with wrk, p50 / p99 (*warm*: between two writes a "
        f"repeated answer is served from the answer cache). Shapes: {shapes}.",
        "",
        "| copies | server | " + " | ".join(f"{n}: first; p50 / p99" for n in names) + " |",
        "| ---: | --- | " + " | ".join("---:" for _ in names) + " |",
    ]
    for step in results["steps"]:
        for name in servers:
            warm = step["servers"][name]["warm"]
            cells = [
                f"{ms(warm[n].get('first_ms'))}; {ms(warm[n]['p50_ms'])} / {ms(warm[n]['p99_ms'])}"
                for n in names
            ]
            lines.append(f"| {step['copies']} | {name} | " + " | ".join(cells) + " |")
    return lines


def _growth(results: dict[str, Any]) -> list[str]:
    steps = results["steps"]
    if len(steps) < 2:
        return []
    first, last = steps[0], steps[-1]
    factor = last["copies"] / first["copies"]
    lines = [f"From {first['copies']} to {last['copies']} copies ({factor:g}x the data):"]
    rate = last["ingest"]["events_per_s"] / first["ingest"]["events_per_s"]
    lines.append(f"- ingest rate x{rate:.2f};")
    per_event = last["db_bytes"] / last["events"]
    lines.append(f"- database {per_event:.0f} bytes per event, with its indexes and deltas;")
    for name in _servers(results):
        a, b = first["servers"][name], last["servers"][name]
        lines.append(
            f"- {name}: resident memory x{mib(b['rss']) / mib(a['rss']):.2f} "
            f"({mib(a['rss']):,.0f} to {mib(b['rss']):,.0f} MiB), cold small p50 "
            f"x{_ratio(b, a, 'cold', 'small')}, warm {_warm_ratio(b, a)};"
        )
    return lines


def _ratio(b: dict[str, Any], a: dict[str, Any], kind: str, which: str) -> str:
    return f"{b[kind][which]['p50_ms'] / a[kind][which]['p50_ms']:.2f}"


def _warm_ratio(b: dict[str, Any], a: dict[str, Any]) -> str:
    parts = [f"{n} x{b['warm'][n]['p50_ms'] / a['warm'][n]['p50_ms']:.2f}" for n in a["warm"]]
    return "p50 " + ", ".join(parts)


def chart(results: dict[str, Any], path: Path) -> None:
    steps = results["steps"]
    xs = [s["events"] / 1e6 for s in steps]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), dpi=110)
    ingest, memory, latency = axes
    ingest.plot(xs, [s["ingest"]["events_per_s"] for s in steps], "o-", color="#1f77b4")
    ingest.set_title("ingest (events/s, 1 process)", fontsize=9)
    ingest.set_ylim(bottom=0)
    styles = {"no cap": "-", "cap": "--"}
    for name in _servers(results):
        style = styles.get(name, ":")
        memory.plot(xs, [mib(s["servers"][name]["rss"]) for s in steps], "o" + style, label=name)
        for which, color in (("large", "#d62728"), ("small", "#2ca02c")):
            cold = [s["servers"][name]["cold"][which]["p50_ms"] for s in steps]
            latency.plot(xs, cold, "o" + style, color=color, label=f"cold {which}, {name}")
        warm = [s["servers"][name]["warm"] for s in steps]
        for shape in warm[0]:
            latency.plot(
                xs,
                [w[shape]["p50_ms"] for w in warm],
                "." + style,
                alpha=0.6,
                label=f"warm {shape}, {name}",
            )
    memory.set_title("resident memory (MiB)", fontsize=9)
    memory.set_ylim(bottom=0)
    memory.legend(fontsize=7)
    latency.set_title("latency p50 (ms, log)", fontsize=9)
    latency.set_yscale("log")
    latency.legend(fontsize=5.5, ncol=2)
    for ax in axes:
        ax.set_xlabel("events loaded (millions)", fontsize=8)
        ax.grid(alpha=0.25)
    fig.suptitle(f"engactivity at scale, {results['mode']} run of {results['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
