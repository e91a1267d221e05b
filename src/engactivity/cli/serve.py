"""``engactivity serve`` and ``engactivity config``: the settings, and serving them."""

from __future__ import annotations

import logging
import signal
import tomllib
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import typer.main

from engactivity.cli.common import StoreOption, console, fail
from engactivity.clock import clock_from_env
from engactivity.interpreter import settle_after_startup
from engactivity.logs import is_secret_name, setup_logging
from engactivity.settings import Settings
from engactivity.store import MIN_RETENTION_MS, StoreUnavailable, StoreURLError, open_store
from engactivity.storeurl import DEFAULT_STORE_URL, check_store_url, mask_url
from engactivity.timeframe import MINUTE_MS

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


def config_command(ctx: typer.Context) -> None:
    """Print the effective configuration of `serve`, secrets masked, and check it.

    Takes the same flags, ENGACTIVITY_* variables and --config file as `serve`;
    exits with status 2 and a message when the configuration is wrong.
    """
    group = ctx.find_root().command
    serve_command = group.commands["serve"]  # type: ignore[attr-defined]
    serve_command.main([*ctx.args, "--print-config"], prog_name="engactivity config")


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
    ] = Settings.max_concurrent,
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
    ] = Settings.answer_cache_mb,
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

    try:
        settings = Settings(
            host=host,
            port=port,
            store=store,
            demo=demo,
            public_host=public_host,
            max_concurrent=max_concurrent,
            max_batch_events=max_batch_events,
            max_batch_bytes=max_batch_bytes,
            retention_minutes=retention_minutes,
            answer_cache_mb=answer_cache_mb,
            sync=sync,
            log_level=log_level,
            log_format=log_format,
            metrics_account_labels=metrics_account_labels,
            insecure_no_auth=insecure_no_auth,
            master_key_file=master_key_file,
            metrics_token=metrics_token,
            shutdown_timeout=shutdown_timeout,
            workers=workers,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    setup_logging(log_level, log_format.lower())
    clock, warning = clock_from_env()
    if warning:
        console.print(f"[bold yellow]warning:[/] {warning}")
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
    from engactivity.api import create_app

    try:
        opened = open_store(store, clock, settings.retention_ms, settings.synchronous)
    except (StoreURLError, StoreUnavailable, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    logging.getLogger("engactivity").info(
        "engactivity serving on http://%s:%s (store %s)", host, port, mask_url(store)
    )
    # uvicorn drains on SIGTERM, then raises the signal again once it has stopped;
    # with the default handler that would end the process before the store is closed.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    app = create_app(settings, clock, opened)
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
        signal.signal(signal.SIGTERM, previous)
        logging.getLogger("engactivity").info("store closed; stopped")


def _serve_workers(
    settings: Settings, workers: int, log_level: str, log_format: str, shutdown_timeout: int
) -> None:
    from engactivity.store.postgres import migrate
    from engactivity.workers import WorkerOptions, serve_workers

    if not settings.store_url.startswith(("postgresql://", "postgres://")):
        raise fail(
            "--workers above 1 needs a PostgreSQL store (--store postgresql://...): a SQLite "
            "store has one writing process; one process already uses every core it can"
        )
    try:
        migrate(settings.store_url)  # once here, not racing in every worker
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


def _demo_keys(settings: Settings) -> None:
    from engactivity.cli.keys import demo_keys

    key_file = Path(settings.master_key_file) if settings.master_key_file else None
    try:
        demo_keys(settings.store_url, key_file, settings.host, settings.port)
    except Exception as exc:
        raise fail(f"cannot create the demo keys in {mask_url(settings.store_url)}: {exc}") from exc


class _Terminated(Exception):
    """SIGTERM arrived: stop as after a normal shutdown (exit status 0)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated
