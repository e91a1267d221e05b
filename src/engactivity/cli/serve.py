"""``engactivity serve`` and ``engactivity config``: the settings, and serving them."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from engactivity.cli.common import console, fail
from engactivity.cli.options import ConfigFileOption, print_settings, with_settings
from engactivity.clock import Clock, clock_from_env
from engactivity.interpreter import settle_after_startup
from engactivity.logs import setup_logging
from engactivity.settings import Settings
from engactivity.store import StoreUnavailable, StoreURLError, open_store
from engactivity.storeurl import check_store_url, mask_url


def config_command(ctx: typer.Context) -> None:
    """Print the effective configuration of `serve`, secrets masked, and check it.

    Takes the same flags, ENGACTIVITY_* variables and --config file as `serve`;
    exits with status 2 and a message when the configuration is wrong.
    """
    group = ctx.find_root().command
    serve_command = group.commands["serve"]  # type: ignore[attr-defined]
    serve_command.main([*ctx.args, "--print-config"], prog_name="engactivity config")


@with_settings
def serve(
    ctx: typer.Context,
    config_file: ConfigFileOption = None,
    *,
    print_config: Annotated[bool, typer.Option("--print-config", hidden=True)] = False,
    **values: Any,
) -> None:
    """Run the HTTP service."""
    try:
        settings = Settings(**values)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    setup_logging(settings.log_level, settings.log_format.lower())
    clock, warning = clock_from_env()
    if warning:
        console.print(f"[bold yellow]warning:[/] {warning}")
    if print_config:
        try:
            check_store_url(settings.store)
        except ValueError as exc:
            raise fail(str(exc)) from exc
        print_settings(ctx, settings, config_file)
        return
    if settings.demo and settings.auth:
        _demo_keys(settings)
    if settings.workers > 1:
        _serve_workers(settings)
        return
    _serve_single(settings, clock)


def _serve_single(settings: Settings, clock: Clock) -> None:
    import uvicorn

    # Imported only here: with --workers, prometheus_client must not be imported
    # before workers.py has set PROMETHEUS_MULTIPROC_DIR (it picks its mode at import).
    from engactivity.api import create_app

    store = settings.store
    try:
        opened = open_store(store, clock, settings.retention_ms, settings.synchronous)
    except (StoreURLError, StoreUnavailable, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    logging.getLogger("engactivity").info(
        "engactivity serving on http://%s:%s (store %s)",
        settings.host,
        settings.port,
        mask_url(store),
    )
    # uvicorn drains on SIGTERM, then raises the signal again once it has stopped;
    # with the default handler that would end the process before the store is closed.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    app = create_app(settings, clock, opened)
    settle_after_startup()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
    except _Terminated:
        pass
    finally:
        opened.close()
        signal.signal(signal.SIGTERM, previous)
        logging.getLogger("engactivity").info("store closed; stopped")


def _serve_workers(settings: Settings) -> None:
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
        settings.workers,
        mask_url(settings.store_url),
    )
    options = WorkerOptions(
        settings.log_level, settings.log_format.lower(), settings.shutdown_timeout
    )
    serve_workers(settings, settings.workers, options)


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
