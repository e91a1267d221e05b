"""``engactivity import`` and ``simulate``: events into a store or a server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from engactivity.cli.common import JsonOption, StoreOption, console, fail
from engactivity.clock import clock_from_env
from engactivity.store import StoreURLError
from engactivity.store.url import DEFAULT_STORE_URL

if TYPE_CHECKING:
    from engactivity.importer import ImportSummary
    from engactivity.simulate import SimConfig, Simulation, SimulationReport
    from engactivity.sinks import Sink

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="ENGACTIVITY_URL",
        help="Send over HTTP to this engactivity server (e.g. http://127.0.0.1:8080) "
        "instead of writing to --store.",
    ),
]
AccountOption = Annotated[
    str, typer.Option("--account", envvar="ENGACTIVITY_ACCOUNT", help="The account id.")
]


def _open_sink(account: str, url: str | None, store: str) -> Sink:
    from engactivity.core.accounts import check_account_id
    from engactivity.core.problems import InvalidRequest
    from engactivity.sinks import open_sink

    try:
        check_account_id(account)
    except InvalidRequest as exc:
        raise fail(str(exc)) from exc
    clock, warning = clock_from_env()
    if warning:
        console.print(f"[bold yellow]warning:[/] {warning}")
    try:
        return open_sink(account, clock, url=url, store_url=store)
    except (StoreURLError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc


def import_events(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="NDJSON file, one event per line."
        ),
    ],
    account: AccountOption,
    store: StoreOption = DEFAULT_STORE_URL,
    url: UrlOption = None,
    batch_size: Annotated[
        int,
        typer.Option(envvar="ENGACTIVITY_BATCH_SIZE", min=1, help="Events sent per batch."),
    ] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Load events from an NDJSON file, with the API's validation and idempotency.

    Exit status: 0 when every line was stored (or was a duplicate or expired),
    1 when some lines were rejected, 2 on errors.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from engactivity.importer import import_file
    from engactivity.sinks import SinkError

    sink = _open_sink(account, url, store)
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=as_json,
    )
    try:
        with progress:
            task = progress.add_task("import", total=file.stat().st_size)
            summary = import_file(
                file,
                sink,
                batch_size,
                on_progress=lambda size: progress.advance(task, size),
            )
    except SinkError as exc:
        raise fail(str(exc)) from exc
    finally:
        sink.close()
    if as_json:
        typer.echo(json.dumps(summary.as_json()))
    else:
        _print_import(summary, f"imported {file} into account {account!r} ({url or store})")
    if not summary.ok:
        raise typer.Exit(1)


def _print_import(summary: ImportSummary, title: str) -> None:
    out = Console()
    out.print(title)
    out.print(f"  accepted    {summary.accepted}")
    out.print(f"  duplicates  {summary.duplicates}")
    out.print(f"  expired     {summary.expired}")
    out.print(f"  rejected    {summary.rejected}")
    shown = summary.rejections[:50]
    for rejection in shown:
        out.print(f"    line {rejection.line}: {rejection.reason}", markup=False)
    if summary.rejected > len(shown):
        out.print(f"    ... and {summary.rejected - len(shown)} more")


def simulate(
    account: AccountOption,
    agents: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_SIM_AGENTS",
            min=1,
            help="Number of agents (each takes 2 or 3 chats at once); the staffing plan "
            "puts on duty as many as the traffic needs, up to all of them. About "
            "6 * rate are needed for the peaks.",
        ),
    ] = 100,
    skills: Annotated[
        int, typer.Option(envvar="ENGACTIVITY_SIM_SKILLS", min=1, help="Number of skills.")
    ] = 8,
    rate: Annotated[
        float,
        typer.Option(
            envvar="ENGACTIVITY_SIM_RATE",
            min=0,
            help="Average new chats per minute over a whole day (about rate*1440 chats a "
            "day); the actual rate follows a daily curve, from about 0.25x at night to "
            "about 2.4x at the business-hours peaks (UTC).",
        ),
    ] = 10.0,
    backfill: Annotated[
        float,
        typer.Option(
            envvar="ENGACTIVITY_SIM_BACKFILL",
            min=0,
            max=24,
            help="Hours of history to generate first, sent as fast as possible.",
        ),
    ] = 24.0,
    duration: Annotated[
        float | None,
        typer.Option(
            envvar="ENGACTIVITY_SIM_DURATION",
            min=0,
            help="Seconds of live traffic after the backfill; 0 = backfill only; "
            "default: until Ctrl-C.",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_SIM_SEED",
            help="Random seed; the same seed gives the same events (re-runs are duplicates).",
        ),
    ] = 1,
    duplicates: Annotated[
        float,
        typer.Option(
            "--duplicate-share",
            envvar="ENGACTIVITY_SIM_DUPLICATE_SHARE",
            min=0,
            max=1,
            help="Chance that an event is delivered twice (same eventId).",
        ),
    ] = 0.02,
    peak_staffing: Annotated[
        float,
        typer.Option(
            envvar="ENGACTIVITY_SIM_PEAK_STAFFING",
            min=0.05,
            max=10,
            help="Chat slots online (on duty, not on a break) at the busiest time, "
            "relative to the chats then in progress had nobody waited: below 1 queues "
            "build up at the peaks (and visitors give up), above about 1.2 they hardly do.",
        ),
    ] = 0.8,
    queue_state_period: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_SIM_QUEUE_STATE_PERIOD",
            help="Seconds between two queueState samples of every skill: one of "
            "1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60.",
        ),
    ] = 10,
    breaks: Annotated[
        bool,
        typer.Option(
            "--breaks/--no-breaks",
            envvar="ENGACTIVITY_SIM_BREAKS",
            help="Agents on duty take breaks (away with a reason, or back soon) and take "
            "no new chats meanwhile. --no-breaks gives the chat and queue events of "
            "versions without agent states.",
        ),
    ] = True,
    store: StoreOption = DEFAULT_STORE_URL,
    url: UrlOption = None,
    batch_size: Annotated[
        int,
        typer.Option(envvar="ENGACTIVITY_BATCH_SIZE", min=1, help="Events sent per batch."),
    ] = 2000,
    account_config: Annotated[
        bool,
        typer.Option(
            "--account-config/--no-account-config",
            envvar="ENGACTIVITY_SIM_ACCOUNT_CONFIG",
            help="First write the account's configuration: the skills, agents and agent "
            "groups of the events, with names (it replaces the names of those ids).",
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Generate realistic contact-centre traffic: a backfill of history, then live events.

    Visitors queue per skill (queued), reach an agent with a free slot (connected)
    or give up (abandoned); chats end (closed); each skill's queue is sampled (queueState);
    agents log in, take breaks and log out (agentState). The account's skills, agents
    and groups get names first (--no-account-config leaves them as they are).
    """
    from engactivity.simulate import HOUR_MS, SimConfig, Simulation
    from engactivity.sinks import SinkError

    try:
        config = SimConfig(
            account=account,
            agents=agents,
            skills=skills,
            rate=rate,
            seed=seed,
            duplicate_share=duplicates,
            peak_staffing=peak_staffing,
            queue_state_period_s=queue_state_period,
            breaks=breaks,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    sink = _open_sink(account, url, store)
    clock, _ = clock_from_env()
    if account_config:
        _send_configuration(config, url, store, clock(), as_json)
    simulation = Simulation(
        config, sink, clock, batch_size=batch_size, backfill_ms=round(backfill * HOUR_MS)
    )
    try:
        interrupted = _run_simulation(simulation, account, backfill, duration, as_json)
    except SinkError as exc:
        raise fail(str(exc)) from exc
    finally:
        sink.close()
    report = simulation.report
    if as_json:
        typer.echo(json.dumps(report.as_json()))
    else:
        title = f"simulated account {account!r}, seed {seed}"
        _print_simulation(report, title + (" (interrupted)" if interrupted else ""))
    if report.rejected:
        raise typer.Exit(1)


def _send_configuration(
    config: SimConfig, url: str | None, store: str, now_ms: int, quiet: bool
) -> None:
    """The simulated account's configuration, where its events go."""
    import orjson

    from engactivity.accountconfig.delivery import DeliveryError
    from engactivity.cli.accountconfig import send_document
    from engactivity.core.problems import InvalidRequest
    from engactivity.simulate.names import account_configuration

    body = orjson.dumps(account_configuration(config))
    try:
        applied = send_document(config.account, body, url=url, store=store, now_ms=now_ms)
    except (DeliveryError, InvalidRequest) as exc:
        raise fail(f"the account configuration was not written: {exc}") from exc
    if not quiet:
        console.print(
            f"account configuration: revision {applied.revision}, {applied.changed} changed"
        )


def _run_simulation(
    simulation: Simulation, account: str, backfill: float, duration: float | None, quiet: bool
) -> bool:
    """The backfill, then the live traffic; True when Ctrl-C cut it short."""
    last_note = [time.monotonic()]

    def note(report: SimulationReport) -> None:
        if not quiet and time.monotonic() - last_note[0] >= 10:
            last_note[0] = time.monotonic()
            console.print(
                f"live: {report.deliveries} events sent, {report.accepted} accepted, "
                f"{report.duplicates} duplicates"
            )

    try:
        if backfill > 0:
            if not quiet:
                console.print(f"backfilling {backfill:g} h for account {account!r} ...")
            simulation.backfill()
        if duration is None or duration > 0:
            if not quiet:
                console.print(
                    "sending live traffic" + (" (Ctrl-C to stop)" if duration is None else "")
                )
            simulation.run_live(duration, on_tick=note)
    except KeyboardInterrupt:
        return True
    return False


def _print_simulation(report: SimulationReport, title: str) -> None:
    from engactivity.methods.engactivity.render import METRIC_KEYS

    out = Console()
    out.print(title)
    summary = report.as_json()
    for key in ("delivered", "accepted", "duplicates", "expired", "rejected"):
        out.print(f"  {key:<12}{summary[key]}")
    for problem in report.problems[:20]:
        out.print(f"    {problem.message} (allowed: {problem.allowed})", markup=False)
    out.print("  metrics of the accepted events" + ("" if report.totals_exact else " (partial)"))
    for key, value in zip(METRIC_KEYS, report.totals, strict=True):
        out.print(f"    {key:<33}{value}")
