"""The report: ``benchmarks.md`` (tables) and ``benchmarks.png`` (chart) from a run's results."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import sections

TARGET_NAIVE_RATIO = 10.0
TARGET_FLOOR_RATIO = 3.0
TARGET_P50_MS = 5.0
TARGET_P50_QUERIES = ("Q1", "Q2", "Q3", "Q4", "QH1", "AA1")
TARGET_Q3_RPS = 2000.0
TARGET_INGEST_EPS = 100_000.0
TARGET_FRESH_P99_MS = 50.0
TARGET_RSS_BYTES = 1024**3
QUEUE_TYPES = ("queued", "abandoned", "queueState")
AGENT_TYPES = ("agentState",)
LONG_LIST = re.compile(r"=(-?\d+(?:,-?\d+){5,})")
"""A list of more than five ids in a query's parameters (shown as its count)."""


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per query: medians over the repetitions (ratios taken within each one)."""
    rows = []
    for q in results["queries"]:
        runs = results["runs"][q["name"]]
        probe = results["probes"][q["name"]]

        def med(path: tuple[str, ...], runs: list[dict[str, Any]] = runs) -> float | None:
            values: list[float | None] = []
            for run in runs:
                value: Any = run
                for key in path:
                    value = value[key]
                values.append(value)
            return _median(values)

        row = {
            "name": q["name"],
            "method": q.get("method", "engactivity"),
            "title": q["title"],
            "params": shown_params(q),
            "account": q["account"],
            "bytes": probe["bytes"],
            "equal": probe["equal"],
            "ours_p50": med(("ours1", "p50_ms")),
            "ours_p99": med(("ours1", "p99_ms")),
            "rps32": med(("ours32", "rps")),
            "peer_p50": med(("peer1", "p50_ms")),
            "peer_p99": med(("peer1", "p99_ms")),
            "naive_over_ours": med(("naive_over_ours",)),
            "floor_ms": med(("floor_ms",)),
            "floor_http_ms": med(("floor1", "p50_ms")),
            "encode_ms": probe["encode_ms"],
            "ours_over_floor": med(("ours_over_floor",)),
            "cold_p50": med(("cold", "p50_ms")),
            "cold_p99": med(("cold", "p99_ms")),
            "cold_samples": sum(run["cold"]["samples"] for run in runs),
            "live_rps32": med(("live32", "rps")),
            "naive_over_cold": med(("naive_over_cold",)),
            "cold_over_floor": med(("cold_over_floor",)),
            "cold_floor_ms": med(("cold_floor_ms",)),
            "cold_peer_p50": med(("cold_peer", "p50_ms")),
            "cold_over_repeated_floor": med(("cold_over_repeated_floor",)),
        }
        row["checks"] = _checks(
            q["name"], row, "ours_p50", "rps32", "naive_over_ours", "ours_over_floor"
        )
        row["cold_checks"] = _checks(
            q["name"], row, "cold_p50", "live_rps32", "naive_over_cold", "cold_over_floor"
        )
        rows.append(row)
    return rows


def _checks(
    name: str, row: dict[str, Any], p50: str, rps: str, naive: str, floor: str
) -> dict[str, bool]:
    checks = {
        "naive": (row[naive] or 0) >= TARGET_NAIVE_RATIO,
        "floor": (row[floor] or 1e9) <= TARGET_FLOOR_RATIO,
    }
    if name in TARGET_P50_QUERIES:
        checks["p50"] = (row[p50] or 1e9) < TARGET_P50_MS
    if name == "Q3":
        checks["rps"] = (row[rps] or 0) >= TARGET_Q3_RPS
    return checks


def out_of_reach(rows: list[dict[str, Any]]) -> list[str]:
    """Sentences naming the targets no server on this stack could meet: the naive one
    after a write where the peer is less than 10 times the floor, the p50 one where the
    floor is over it."""
    out = [
        f"{r['name']} (peer {ms(r['cold_peer_p50'])}, floor {ms(r['cold_floor_ms'])})"
        for r in rows
        if r["cold_peer_p50"] and r["cold_floor_ms"]
        and r["cold_peer_p50"] < TARGET_NAIVE_RATIO * r["cold_floor_ms"]
    ]  # fmt: skip
    slow = [
        f"{r['name']} (floor {ms(r['floor_ms'])})"
        for r in rows
        if r["name"] in TARGET_P50_QUERIES and (r["floor_ms"] or 0) >= TARGET_P50_MS
    ]
    lines = []
    if out:
        lines += [
            "",
            f"After a write, the naive peer is less than {TARGET_NAIVE_RATIO:.0f} times the "
            f"floor for {_names(out)}: there, even an answer at the floor would not be "
            f"{TARGET_NAIVE_RATIO:.0f} times faster than the peer.",
        ]
    if slow:
        lines += [
            "",
            f"The floor itself is over the p50 target of {TARGET_P50_MS:.0f} ms for "
            f"{_names(slow)}: no answer of that size is encoded and sent faster.",
        ]
    return lines


def _types(types: dict[str, int] | None) -> str:
    """`` (a connected, b closed, ...)``: events per type, busiest first."""
    if not types:
        return ""
    ordered = sorted(types.items(), key=lambda item: (-item[1], item[0]))
    return " (" + ", ".join(f"{n:,} {t}" for t, n in ordered) + ")"


def shown_params(query: dict[str, Any]) -> str:
    """A query's parameters, long id lists as their count, ``POST`` when sent so."""
    params = LONG_LIST.sub(lambda m: f"=<{m.group(1).count(',') + 1} ids>", query["params"])
    return f"POST {params}" if query.get("post") else params


def _missing_events(types: dict[str, int] | None) -> str:
    """A warning when the day lacks queue or agent event types (those answers are then
    thin or empty)."""
    if types is None:
        return ""
    out = ""
    for kinds, what in ((QUEUE_TYPES, "the queue methods'"), (AGENT_TYPES, "agent activity's")):
        missing = [t for t in kinds if t not in types]
        if missing:
            out += (
                f" **The simulator made no {_names([f'`{t}`' for t in missing])} events**: "
                f"{what} answers hold only what the other events give them."
            )
    return out


def _sim_options(options: dict[str, object] | None) -> str:
    if options is None:
        return ""
    if not options:
        return (
            " The simulator has no setting for how often it samples a queue (`queueState`): "
            "its own default applies."
        )
    return " Simulator settings: " + ", ".join(f"`{k}={v}`" for k, v in options.items()) + "."


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def size(n: float) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def chart(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    names = [r["name"] for r in rows]
    series = [
        ("ours p50 (repeated request)", [r["ours_p50"] for r in rows], "#1f77b4"),
        ("ours p50, first request after a write", [r["cold_p50"] for r in rows], "#9ecae1"),
        ("floor p50 (orjson + same HTTP stack)", [r["floor_ms"] for r in rows], "#2ca02c"),
        ("naive peer p50 (DuckDB)", [r["peer_p50"] for r in rows], "#d62728"),
    ]
    fig, ax = plt.subplots(figsize=(max(10.0, 0.75 * len(rows)), 5.2), dpi=110)
    width = 0.2
    for i, (label, values, color) in enumerate(series):
        xs = [x + (i - 1.5) * width for x in range(len(rows))]
        heights = [v or 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=label, color=color)
        for bar, value in zip(bars, values, strict=True):
            if value:
                ax.annotate(
                    ms(value).replace(" ", ""),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    rotation=90,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    _method_groups(ax, rows)
    ax.set_yscale("log")
    ax.set_ylabel("latency, one client, p50 (ms, log scale)")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(
        [f"{n}\n{size(r['bytes'])}" for n, r in zip(names, rows, strict=True)], fontsize=8
    )
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", ncol=2, bbox_to_anchor=(0.0, 0.93))
    ax.grid(axis="y", which="both", alpha=0.25)
    top = max((v or 0.0) for _, values, _ in series for v in values)
    ax.set_ylim(bottom=0.05, top=max(1.0, top) * 300)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _method_groups(ax: Any, rows: list[dict[str, Any]]) -> None:
    """A dotted line between the methods' queries, each group named at the top."""
    starts = [i for i, r in enumerate(rows) if i == 0 or r["method"] != rows[i - 1]["method"]]
    for start, end in zip(starts, [*starts[1:], len(rows)], strict=True):
        if start:
            ax.axvline(start - 0.5, color="grey", linewidth=0.6, linestyle=":")
        ax.text(
            (start + end - 1) / 2,
            0.97,
            rows[start]["method"],
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="dimgray",
        )


def write(results: dict[str, Any], out: Path) -> None:
    rows = summarize(results)
    png = out.with_suffix(".png")
    m = results["machine"]
    chart(
        rows,
        png,
        f"engactivity, {results['mode']} run of {results['date']}: {m['nproc']} cores, {m['cpu']}",
    )
    # The sections of other runs (live, at scale, push freshness) are kept.
    out.write_text(sections.keep(out, render(results, rows, png.name)))


def _clock_running(moving: dict[str, Any] | None, rows: list[dict[str, Any]]) -> list[str]:
    """Agent activity with the server's clock running: every request another moment."""
    if not moving:
        return []
    floors = {r["name"]: r for r in rows}
    lines = [
        "",
        "### Agent activity with the clock running",
        "",
        "Agent activity's window ends at now, to the millisecond: at the pinned moment "
        "above its answers are cached like the others', but in life every request is of "
        "another moment. So its queries are also timed with the server's clock running "
        "(`ENGACTIVITY_FAKE_START_MS`, the same store, one client, `wrk -t1 -c1`), once "
        "the restarted server has swept its event ids (retention, a minute or two, "
        "during which answers are slower): each answer is of its own moment, made from "
        "the measures the previous answer of the same question kept, moved on by the "
        "milliseconds between them (docs/design.md), and the text of past intervals. "
        "*After a write*: the same, each question right after the benchmark's write, "
        "as in the table above (one client, `http.client`); with the clock running, the "
        "write's agent state (dated at the data's now) is inside every window, so its "
        "agent is measured again, as a live account's agents are; over the floor and "
        "the peer timed after a write in the table above.",
        "",
        "| query | p50 | p99 | naive/ours | ours/floor "
        "| p50 after a write | p99 after a write | naive/ours | ours/floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, run in moving.items():
        row = floors.get(name, {})
        p50 = run.get("p50_ms") or 0.0
        after = run.get("after_write") or {}
        after_p50 = after.get("p50_ms") or 0.0
        lines.append(
            f"| {name} | {ms(p50)} | {ms(run.get('p99_ms'))} "
            f"| {_ratio(row.get('peer_p50'), p50)} | {_ratio(p50, row.get('floor_ms'))} "
            f"| {ms(after_p50 or None)} | {ms(after.get('p99_ms'))} "
            f"| {_ratio(row.get('cold_peer_p50'), after_p50)} "
            f"| {_ratio(after_p50, row.get('cold_floor_ms'))} |"
        )
    return lines


def _ratio(over: float | None, under: float | None) -> str:
    """``over / under`` as a table cell (``-`` when either is missing)."""
    return f"{num(over / under, 1)}x" if over and under else "-"


def render(results: dict[str, Any], rows: list[dict[str, Any]], png_name: str) -> str:
    m, d = results["machine"], results["data"]
    ingest, dup = results["ingest"], results["ingest_dup"]
    fresh = results["freshness"]
    mem = results["memory"]
    now = dt.datetime.fromtimestamp(d["now_ms"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    scale = d["scale"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{results['command']}` (`{results['argv']}`) on {results['date']}, "
        f"in {results['seconds'] / 60:.1f} minutes. Do not edit: re-run the command.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']:.1f} GiB RAM, {m['os']}; "
        f"Python {m['python']}, SQLite {m['sqlite']}, DuckDB {m['duckdb']}, {m['wrk']}."
        + (
            f" Load average (1 min) {m['loadavg'][0]:.1f} at the start, "
            f"{m['loadavg'][1]:.1f} at the end (our processes included)."
            if "loadavg" in m
            else ""
        ),
        "",
        f"Data, the {results['mode']} standard day (seeded simulator, pinned now {now} UTC): "
        f"account `{d['large']}` with {scale['large_agents']:,} agents, "
        f"{scale['large_skills']:,} skills and {d['events_large']:,} events over the last 24 h"
        f"{_types(d.get('types_large'))}; "
        f"{d['small_accounts']} small accounts of {scale['small_agents']} agents, "
        f"{scale['small_skills']} skills and about "
        f"{(d['events'] - d['events_large']) / max(1, d['small_accounts']):,.0f} events each; "
        f"{d['events']:,} events in all{_types(d.get('types'))}."
        + _sim_options(d.get("sim_options"))
        + _missing_events(d.get("types")),
        "",
        f"Latencies are medians of {results['reps']} runs; ratios are taken within each run,"
        " then their median is shown.",
        "",
        "## Queries",
        "",
        "| query | method | parameters | bytes | ours p50 | ours p99 | req/s, 32 clients "
        "| peer p50 | naive/ours | floor p50 | ours/floor | targets met |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        account = "small account" if r["account"] != d["large"] else "large"
        checks = ", ".join(f"{k} {mark(v)}" for k, v in r["checks"].items())
        lines.append(
            f"| {r['name']} | {r['method']} | `{r['params']}` ({account}) | {size(r['bytes'])} "
            f"| {ms(r['ours_p50'])} | {ms(r['ours_p99'])} | {num(r['rps32'])} "
            f"| {ms(r['peer_p50'])} | {num(r['naive_over_ours'], 1)}x "
            f"| {ms(r['floor_ms'])} | {num(r['ours_over_floor'], 1)}x | {checks} |"
        )
    lines += [
        "",
        f"![latency of each query beside its floor and the naive peer]({png_name})",
        "",
        "- *ours*: `engactivity serve --store sqlite:///... --sync full`, clock pinned with "
        "`ENGACTIVITY_FAKE_NOW_MS`. p50/p99 from `wrk -t1 -c1 --latency` (one client, "
        "requests back to back); req/s from `wrk -t2 -c32`.",
        "- *peer*: `bench/peer.py`, the naive implementation from SEMANTICS.md, QUEUE.md and "
        "AGENTS.md: raw events in DuckDB, one query per request (a `GROUP BY`; for the queue "
        "methods with the newest sample per skill by a window; for agent activity each "
        "state's end by `LEAD` over the agent's events, clipped to the window and to each "
        "interval), shaped in Python, FastAPI + uvicorn, same pinned now. "
        "Its answers are compared with ours (parsed JSON, key order ignored): "
        + (
            "**all equal**."
            if all(r["equal"] for r in rows)
            else "**some differ: " + ", ".join(r["name"] for r in rows if not r["equal"]) + "**."
        ),
        "- *floor*: `orjson.dumps` of our parsed answer (median of many runs) plus the p50 of "
        "a FastAPI + uvicorn app returning a precomputed body of the same bytes "
        "(`bench/floor.py`; FastAPI's OpenTelemetry hooks off, as in ours), measured with "
        "the same one-client wrk run.",
        "- Targets: naive/ours >= 10, ours/floor <= 3, p50 < 5 ms (Q1-Q4, QH1, AA1), "
        ">= 2,000 req/s with 32 clients (Q3).",
        "- Q1-Q7: engagement activity (SEMANTICS.md); QH: queue health, QS: current queue "
        "state, SLA: the SLA histogram (QUEUE.md). Queue health and queue state answers hold "
        "current values (the newest queue sample of each skill, if under five minutes old), "
        "which move with the clock as well as with the data; the table after a write below "
        "shows each answer computed afresh.",
        "- AA1-AA4: agent activity (AGENTS.md): time per agent in each state, to the "
        "millisecond, in the exact window and intervals; AA3 and AA4 name agents spread over "
        "the large account's ids and one it does not have; AA4 is sent by POST, its "
        "parameters in a JSON body of strings (the floor's request is a POST of the same "
        "body).",
        "",
        "### When the data has just changed",
        "",
        "wrk repeats one identical request, and nothing is ingested meanwhile: a server that "
        "keeps answers until the account's data changes serves all but the first from memory. "
        "A live account's data changes every time a batch arrives, so the same queries are "
        "also measured right after a write: a batch dated in the next bucket (valid, up to 5 "
        "minutes ahead, and outside every span asked, so no answer moves; the answers are "
        "re-checked at the end) of one `connected` event with a wait and a group and, when the "
        "account has current queue values, one `queueState` repeating a skill's current "
        "sample (it becomes the newest, with the same values), and one `agentState` dated now "
        "(agent 1001 online from now on: its timeline changes, outside every window): every "
        "table a query reads changes. *after a write*: one client (Python's `http.client`), "
        "a write to our server then the query, timed from sending the query to the end of "
        "its answer (samples: ours, over all runs; slow queries get fewer). The floor and the "
        "peer are asked in the same loop, each right after a write of its own to our server, "
        "in a random order each round: the same client, and the same pause before the "
        "question (while our server makes the write durable, every process on the machine "
        "sleeps, and the first request after it is slower on any server). *floor after a "
        "write*: that p50 of the floor's app plus the encoding time; ours/floor and "
        "naive/ours compare answers timed alike. *ours / repeated floor*: our p50 after a "
        "write over the floor of the table above (wrk, back to back), for comparison with "
        "earlier reports. *with writes*: 32 clients with wrk while the account receives 10 "
        "such batches a second. Below 1x, ours/floor in the table above means the repeated "
        "answer was served as stored bytes, without encoding.",
        "",
        "| query | samples | p50 after a write | p99 after a write | floor after a write "
        "| peer after a write | req/s, 32 clients, with writes | naive/ours | ours/floor "
        "| ours / repeated floor | targets met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        checks = ", ".join(f"{k} {mark(v)}" for k, v in r["cold_checks"].items())
        lines.append(
            f"| {r['name']} | {r['cold_samples']} | {ms(r['cold_p50'])} | {ms(r['cold_p99'])} "
            f"| {ms(r['cold_floor_ms'])} | {ms(r['cold_peer_p50'])} | {num(r['live_rps32'])} "
            f"| {num(r['naive_over_cold'], 1)}x | {num(r['cold_over_floor'], 1)}x "
            f"| {num(r['cold_over_repeated_floor'], 1)}x | {checks} |"
        )
    lines += out_of_reach(rows)
    lines += _clock_running(results.get("clock_running"), rows)
    lines += [
        "",
        "### The parts of the floor, and the peer's tail",
        "",
        "| query | floor: encode | floor: HTTP | peer p99 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {ms(r['encode_ms'])} | {ms(r['floor_http_ms'])} "
            f"| {ms(r['peer_p99'])} |"
        )
    lines += [
        "",
        "## Ingest",
        "",
        f"Through `POST /api/v1/accounts/{{a}}/events`: JSON arrays of up to 1,000 events, "
        f"pre-encoded, {4} concurrent senders (threads of one separate process, one keep-alive "
        "connection each), each on a fresh store with the default `--sync full` (a 200 means "
        "fsynced). Server CPU is user + system time of the server process over the run "
        "(psutil).",
        "",
        "| run | events sent | accepted | duplicates | seconds | events/s "
        "| CPU s per million events | batch p50 / p99 | >= 100,000 events/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, run in (("standard day", ingest), ("10% duplicates", dup)):
        lines.append(
            f"| {label} | {run['sent']:,} | {run['accepted']:,} | {run['duplicates']:,} "
            f"| {run['seconds']:.1f} | {run['events_per_s']:,.0f} "
            f"| {run['cpu_s_per_million']:.1f} | {ms(run['batch_p50_ms'])} / "
            f"{ms(run['batch_p99_ms'])} | {mark(run['events_per_s'] >= TARGET_INGEST_EPS)} |"
        )
    lines += [
        "",
        "The duplicates run sends the same standard day again to a second fresh server, "
        "every batch made of 900 new events and 100 re-sent ones (drawn, seeded, from the "
        "account's last 10,000 already-sent events; an account's first batch repeats events "
        "of its own): "
        f"{d['dup_sent']:,} events of which {d['dup_duplicates']:,} duplicates. "
        "events/s counts every event sent, duplicates included. Its answers to "
        f"{_names(results.get('dup_checked', ['Q1', 'Q3', 'Q7']))} are checked equal to "
        "the first server's, byte for byte.",
        "",
        "## Freshness and memory",
        "",
        f"- Freshness: a batch of one event for a new agent of the large account, then "
        f"`agentIds=<it>&timeframe=5` polled until it shows; time from the 200 to the answer "
        f"that shows it, {fresh['samples']} samples: p50 {ms(fresh['p50_ms'])}, "
        f"p99 {ms(fresh['p99_ms'])}, max {ms(fresh['max_ms'])}; visible at the first poll "
        f"{100 * fresh['first_poll_share']:.0f}% of the time"
        + (f", **{fresh['missed']} never seen within 10 s**" if fresh["missed"] else "")
        + f". Target p99 < 50 ms: {mark(fresh['p99_ms'] < TARGET_FRESH_P99_MS)}.",
        f"- Memory of the server process: {size(ingest['memory_after']['VmRSS'])} resident "
        f"after the ingest (peak so far {size(ingest['memory_after']['VmHWM'])}); peak over "
        f"the whole run, 32-client query load included, {size(mem['VmHWM'])} (VmHWM). "
        f"Target < 1 GB: {mark(mem['VmHWM'] < TARGET_RSS_BYTES)}. The SQLite files hold "
        f"{size(ingest['db_bytes'])} after the ingest.",
        "",
    ]
    if results["failures"] or results["warnings"]:
        lines += ["## Problems seen in this run", ""]
        lines += [f"- **failed**: {p}" for p in results["failures"]]
        lines += [f"- {p}" for p in results["warnings"]]
        lines.append("")
    lines += [
        "## How to run",
        "",
        "```sh",
        "make bench        # the full run: about 25 minutes on 2 cores; writes docs/benchmarks.*",
        "make bench-quick  # the same code at 1/100 scale, about 2 minutes (part of make test)",
        "make bench-scale  # copies of the standard day on PostgreSQL: the section At scale",
        "make bench-live   # the live contact center (section Live at the top); bench-live-quick",
        "```",
        "",
        "The harness lives in `bench/`; generated data is cached in `bench/.cache/` "
        "(git-ignored). The full results of the last run are in "
        "`bench/.cache/results-<mode>.json`.",
        "",
    ]
    return "\n".join(lines)
