"""The ``engactivity`` command: serve, import, simulate."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
import tomllib
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
import typer.main
from rich.console import Console

from engactivity.clock import clock_from_env
from engactivity.config import DEFAULT_STORE_URL, Settings, check_store_url, mask_url
from engactivity.core.timeframe import MINUTE_MS
from engactivity.interpreter import settle_after_startup
from engactivity.keys_cli import keys_app
from engactivity.logs import is_secret_name, setup_logging
from engactivity.store import MIN_RETENTION_MS, StoreUnavailable, StoreURLError, open_store

if TYPE_CHECKING:
    from engactivity.sinks import Sink

app = typer.Typer(
    help="engactivity: a self-hosted Engagement Activity real-time metrics service.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="ENGACTIVITY_STORE",
        help="Store URL: sqlite:///relative/path.db, sqlite:////absolute/path.db, "
        "or postgresql://user:password@host:5432/database.",
    ),
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")
]


@app.callback()
def _root() -> None:
    """engactivity: a self-hosted Engagement Activity real-time metrics service."""


def fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(2)


_NOT_SETTINGS = {"config_file", "print_config"}


def _load_config_file(
    ctx: typer.Context, param: typer.CallbackParam, value: Path | None
) -> Path | None:
    """Read the TOML file into click's default map: below flags and variables."""
    if value is None or ctx.resilient_parsing:
        return value
    try:
        data = tomllib.loads(value.read_text())
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {value}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise typer.BadParameter(f"{value} is not valid TOML: {exc}") from exc
    # Top-level keys and a [serve] table are both read; the table wins.
    table = data.get("serve", {})
    if not isinstance(table, dict):
        raise typer.BadParameter(f"{value}: [serve] must be a table")
    section = {**{k: v for k, v in data.items() if k != "serve"}, **table}
    known = sorted(
        str(p.name) for p in ctx.command.params if p.name and p.name not in _NOT_SETTINGS
    )
    values: dict[str, object] = {}
    for key, setting in section.items():
        name = key.replace("-", "_")
        if name not in known:
            raise typer.BadParameter(
                f"{value}: unknown setting {key!r}; known: "
                + ", ".join(k.replace("_", "-") for k in known)
            )
        values[name] = setting
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


def _print_config(ctx: typer.Context, config_file: Path | None) -> None:
    """The effective settings of ``serve``, where each came from, secrets masked."""
    sources = {
        "COMMANDLINE": "flag",
        "ENVIRONMENT": "environment",
        "DEFAULT_MAP": f"file {config_file}",
        "DEFAULT": "default",
    }
    rows: list[tuple[str, str, str, str]] = []
    for param in ctx.command.params:
        if not param.name or param.name in _NOT_SETTINGS or param.param_type_name != "option":
            continue
        shown = _masked(param.name, ctx.params.get(param.name))
        source = ctx.get_parameter_source(param.name)
        env = param.envvar if isinstance(param.envvar, str) else ""
        origin = sources.get(source.name, "default") if source is not None else "default"
        rows.append((param.opts[0], shown, origin, env))
    rows.insert(0, ("setting", "value", "from", "variable"))
    width = max(len(r[0]) for r in rows) + 2
    vwidth = max(len(r[1]) for r in rows) + 2
    owidth = max(len(r[2]) for r in rows) + 2
    for flag, shown, origin, env in rows:
        typer.echo(f"{flag:<{width}}{shown:<{vwidth}}{origin:<{owidth}}{env}".rstrip())


def _masked(name: str, value: object) -> str:
    if value is None:
        return "(none)"
    if name == "store":
        return mask_url(str(value))
    if is_secret_name(name):
        return "***"
    return str(value).lower() if isinstance(value, bool) else str(value)


@app.command(
    "config",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def config_command(ctx: typer.Context) -> None:
    """Print the effective configuration of `serve`, secrets masked, and check it.

    Takes the same flags, ENGACTIVITY_* variables and --config file as `serve`;
    exits with status 2 and a message when the configuration is wrong.
    """
    group = typer.main.get_command(app)
    serve_command = group.commands["serve"]  # type: ignore[attr-defined]
    serve_command.main([*ctx.args, "--print-config"], prog_name="engactivity config")


@app.command()
def serve(
    ctx: typer.Context,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="ENGACTIVITY_CONFIG",
            dir_okay=False,
            is_eager=True,
            callback=_load_config_file,
            help="TOML file of settings (the flag names as keys); flags and "
            "ENGACTIVITY_* variables win over it.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(envvar="ENGACTIVITY_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="ENGACTIVITY_PORT", help="Port to listen on.")] = 8080,
    store: StoreOption = DEFAULT_STORE_URL,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            envvar="ENGACTIVITY_DEMO",
            help="Also run the traffic simulator for account 'demo' (24 h of backfill).",
        ),
    ] = False,
    public_host: Annotated[
        str | None,
        typer.Option(
            envvar="ENGACTIVITY_PUBLIC_HOST",
            help="host[:port] that domain discovery answers (default: the address served).",
        ),
    ] = None,
    max_concurrent: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_MAX_CONCURRENT",
            min=1,
            help="Concurrent engactivity requests per account before 429.",
        ),
    ] = Settings.max_concurrent_per_account,
    max_batch_events: Annotated[
        int, typer.Option(envvar="ENGACTIVITY_MAX_BATCH_EVENTS", min=1, help="Events per batch.")
    ] = Settings.max_batch_events,
    max_batch_bytes: Annotated[
        int, typer.Option(envvar="ENGACTIVITY_MAX_BATCH_BYTES", min=1, help="Bytes per batch.")
    ] = Settings.max_batch_bytes,
    retention_minutes: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_RETENTION_MINUTES",
            min=MIN_RETENTION_MS // MINUTE_MS,
            help="How long buckets and event ids are kept.",
        ),
    ] = MIN_RETENTION_MS // MINUTE_MS,
    answer_cache_mb: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_ANSWER_CACHE_MB",
            min=0,
            help="Memory for answers served again while the account's data is unchanged.",
        ),
    ] = Settings.answer_cache_bytes // (1024 * 1024),
    sync: Annotated[
        str,
        typer.Option(
            envvar="ENGACTIVITY_SYNC",
            help="SQLite durability: full (survives power loss) or normal (survives crashes).",
        ),
    ] = "full",
    log_level: Annotated[str, typer.Option(envvar="ENGACTIVITY_LOG_LEVEL")] = "info",
    log_format: Annotated[
        str,
        typer.Option(
            envvar="ENGACTIVITY_LOG_FORMAT",
            help="text (human-readable lines) or json (one JSON object per line).",
        ),
    ] = "text",
    metrics_account_labels: Annotated[
        bool,
        typer.Option(
            "--metrics-account-labels",
            envvar="ENGACTIVITY_METRICS_ACCOUNT_LABELS",
            help="Label the 429 counter of /metrics by account (one series per account).",
        ),
    ] = False,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            envvar="ENGACTIVITY_INSECURE_NO_AUTH",
            help="Serve without checking API keys: anyone reaching the port can read and "
            "write every account. Local experiments only; warned at every start.",
        ),
    ] = False,
    master_key_file: Annotated[
        str | None,
        typer.Option(
            envvar="ENGACTIVITY_MASTER_KEY_FILE",
            help="File of the key that seals OAuth 1.0a secrets (default for SQLite: the "
            "database path + .key). ENGACTIVITY_MASTER_KEY (base64) wins over it.",
        ),
    ] = None,
    metrics_token: Annotated[
        str | None,
        typer.Option(
            envvar="ENGACTIVITY_METRICS_TOKEN",
            help="Bearer token GET /metrics requires. Without it /metrics is open when "
            "the server binds loopback only, refused otherwise.",
        ),
    ] = None,
    shutdown_timeout: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_SHUTDOWN_TIMEOUT",
            min=0,
            help="Seconds requests in flight get to finish after SIGTERM/SIGINT.",
        ),
    ] = 10,
    workers: Annotated[
        int,
        typer.Option(
            envvar="ENGACTIVITY_WORKERS",
            min=1,
            help="Server processes sharing the port (more than 1 needs a PostgreSQL store).",
        ),
    ] = 1,
    print_config: Annotated[bool, typer.Option("--print-config", hidden=True)] = False,
) -> None:
    """Run the HTTP service."""
    import uvicorn

    if sync.lower() not in ("full", "normal"):
        raise fail("--sync must be 'full' or 'normal'")
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise fail("--log-level must be debug, info, warning or error")
    try:
        setup_logging(log_level, log_format.lower())
    except ValueError as exc:
        raise fail(f"--log-format: {exc}") from exc
    clock, warning = clock_from_env()
    if warning:
        console.print(f"[bold yellow]warning:[/] {warning}")
    settings = Settings(
        host=host,
        port=port,
        store_url=store,
        public_host=public_host,
        demo=demo,
        max_concurrent_per_account=max_concurrent,
        max_batch_events=max_batch_events,
        max_batch_bytes=max_batch_bytes,
        retention_ms=retention_minutes * MINUTE_MS,
        answer_cache_bytes=answer_cache_mb * 1024 * 1024,
        synchronous=sync.upper(),
        metrics_account_labels=metrics_account_labels,
        auth=not insecure_no_auth,
        master_key_file=master_key_file,
        metrics_token=metrics_token or None,
    )
    if demo and settings.auth and not print_config:
        _demo_keys(settings)
    if print_config:
        try:
            check_store_url(store)
        except (StoreURLError, ValueError) as exc:
            raise fail(str(exc)) from exc
        _print_config(ctx, config_file)
        return
    if workers > 1:
        _serve_workers(settings, workers, log_level, log_format, shutdown_timeout)
        return
    # Imported only here: with --workers, prometheus_client must not be imported
    # before workers.py has set PROMETHEUS_MULTIPROC_DIR (it picks its mode at import).
    from engactivity.api.app import create_app
    from engactivity.auth.keystore import KeyStore
    from engactivity.methods import tables_of
    from engactivity.store import open_database

    try:
        database = open_database(store, settings.synchronous)
        opened = open_store(store, clock, tables_of(), settings.retention_ms, database=database)
        keys = KeyStore(database) if settings.auth else None
    except (StoreURLError, StoreUnavailable, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    logging.getLogger("engactivity").info(
        "engactivity serving on http://%s:%s (store %s)", host, port, mask_url(store)
    )
    # uvicorn drains on SIGTERM, then raises the signal again once it has stopped;
    # with the default handler that would end the process before the store is closed.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    app = create_app(settings, opened, keys, clock)
    settle_after_startup()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level.lower(),
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=shutdown_timeout,
        )
    except _Terminated:
        pass
    finally:
        opened.close()
        database.close()
        signal.signal(signal.SIGTERM, previous)
        logging.getLogger("engactivity").info("store closed; stopped")


def _serve_workers(
    settings: Settings, workers: int, log_level: str, log_format: str, shutdown_timeout: int
) -> None:
    from engactivity.methods import tables_of
    from engactivity.store import migrate_store
    from engactivity.workers import WorkerOptions, serve_workers

    if not settings.store_url.startswith(("postgresql://", "postgres://")):
        raise fail(
            "--workers above 1 needs a PostgreSQL store (--store postgresql://...): a SQLite "
            "store has one writing process; one process already uses every core it can"
        )
    try:
        migrate_store(settings.store_url, tables_of())  # once here, not racing in every worker
    except Exception as exc:
        raise fail(f"cannot prepare the database {mask_url(settings.store_url)}: {exc}") from exc
    logging.getLogger("engactivity").info(
        "engactivity serving on http://%s:%s with %d workers (store %s)",
        settings.host,
        settings.port,
        workers,
        mask_url(settings.store_url),
    )
    serve_workers(settings, workers, WorkerOptions(log_level, log_format.lower(), shutdown_timeout))


@app.command("migrate")
def migrate_command(store: StoreOption = DEFAULT_STORE_URL) -> None:
    """Create or upgrade the store's schema (also done at every start). Idempotent."""
    from engactivity.methods import tables_of
    from engactivity.store import migrate_store

    try:
        version = migrate_store(store, tables_of())
    except (StoreURLError, StoreUnavailable, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"{mask_url(store)}: schema version {version}")


def _demo_keys(settings: Settings) -> None:
    from engactivity.keys_cli import demo_keys

    key_file = Path(settings.master_key_file) if settings.master_key_file else None
    try:
        demo_keys(settings.store_url, key_file, settings.host, settings.port)
    except Exception as exc:
        raise fail(f"cannot create the demo keys in {mask_url(settings.store_url)}: {exc}") from exc


class _Terminated(Exception):
    """SIGTERM arrived: stop as after a normal shutdown (exit status 0)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


@app.command("backup")
def backup_command(
    dest: Annotated[
        Path,
        typer.Argument(help="The backup file to write (or a folder to write it in)."),
    ],
    store: StoreOption = DEFAULT_STORE_URL,
    force: Annotated[bool, typer.Option("--force", help="Overwrite DEST if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Copy the store into one file, while it runs (SQLite online backup)."""
    from engactivity.backup import BackupError, backup

    try:
        summary = backup(store, dest, force=force)
    except BackupError as exc:
        raise fail(str(exc)) from exc
    _print_summary("backed up", store, summary.as_json(), as_json)


@app.command("restore")
def restore_command(
    backup_file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A backup file."),
    ],
    store: StoreOption = DEFAULT_STORE_URL,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore even when another process (a running server) has the store open.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Replace the store's data by a backup. Stop the server first (or use --force)."""
    from engactivity.backup import BackupError, restore

    try:
        summary = restore(backup_file, store, force=force)
    except BackupError as exc:
        raise fail(str(exc)) from exc
    _print_summary(f"restored {backup_file} into", store, summary.as_json(), as_json)


def _print_summary(what: str, store: str, summary: dict[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary))
        return
    out = Console()
    out.print(f"{what} {store}", markup=False)
    for key, value in summary.items():
        out.print(f"  {key:<16}{value}", markup=False)


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


@app.command("import")
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
        out = Console()
        target = url or store
        out.print(f"imported {file} into account {account!r} ({target})")
        out.print(f"  accepted    {summary.accepted}")
        out.print(f"  duplicates  {summary.duplicates}")
        out.print(f"  expired     {summary.expired}")
        out.print(f"  rejected    {summary.rejected}")
        shown = summary.rejections[:50]
        for rejection in shown:
            out.print(f"    line {rejection.line}: {rejection.reason}", markup=False)
        if summary.rejected > len(shown):
            out.print(f"    ... and {summary.rejected - len(shown)} more")
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def simulate(
    account: AccountOption,
    agents: Annotated[
        int, typer.Option(envvar="ENGACTIVITY_SIM_AGENTS", min=1, help="Number of agents.")
    ] = 40,
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
    store: StoreOption = DEFAULT_STORE_URL,
    url: UrlOption = None,
    batch_size: Annotated[
        int,
        typer.Option(envvar="ENGACTIVITY_BATCH_SIZE", min=1, help="Events sent per batch."),
    ] = 2000,
    as_json: JsonOption = False,
) -> None:
    """Generate realistic engagement traffic: a backfill of history, then live events."""
    from engactivity.methods.engactivity.render import METRIC_KEYS
    from engactivity.simulate import HOUR_MS, SimConfig, Simulation, SimulationReport
    from engactivity.sinks import SinkError

    try:
        config = SimConfig(
            account=account,
            agents=agents,
            skills=skills,
            rate=rate,
            seed=seed,
            duplicate_share=duplicates,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    sink = _open_sink(account, url, store)
    clock, _ = clock_from_env()
    simulation = Simulation(
        config, sink, clock, batch_size=batch_size, backfill_ms=round(backfill * HOUR_MS)
    )
    last_note = [time.monotonic()]

    def note(report: SimulationReport) -> None:
        if not as_json and time.monotonic() - last_note[0] >= 10:
            last_note[0] = time.monotonic()
            console.print(
                f"live: {report.deliveries} events sent, {report.accepted} accepted, "
                f"{report.duplicates} duplicates"
            )

    interrupted = False
    try:
        if backfill > 0:
            if not as_json:
                console.print(f"backfilling {backfill:g} h for account {account!r} ...")
            simulation.backfill()
        if duration is None or duration > 0:
            if not as_json:
                console.print(
                    "sending live traffic" + (" (Ctrl-C to stop)" if duration is None else "")
                )
            simulation.run_live(duration, on_tick=note)
    except KeyboardInterrupt:
        interrupted = True
    except SinkError as exc:
        raise fail(str(exc)) from exc
    finally:
        sink.close()
    report = simulation.report
    if as_json:
        typer.echo(json.dumps(report.as_json()))
    else:
        out = Console()
        out.print(
            f"simulated account {account!r}, seed {seed}"
            + (" (interrupted)" if interrupted else "")
        )
        summary = report.as_json()
        for key in ("delivered", "accepted", "duplicates", "expired", "rejected"):
            out.print(f"  {key:<12}{summary[key]}")
        for problem in report.problems[:20]:
            out.print(f"    {problem.message} (allowed: {problem.allowed})", markup=False)
        out.print(
            "  metrics of the accepted events" + ("" if report.totals_exact else " (partial)")
        )
        for key, value in zip(METRIC_KEYS, report.totals, strict=True):
            out.print(f"    {key:<33}{value}")
    if report.rejected:
        raise typer.Exit(1)


app.add_typer(keys_app, name="keys")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
