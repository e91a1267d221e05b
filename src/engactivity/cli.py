"""The ``engactivity`` command: serve, import, simulate."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from engactivity.clock import clock_from_env
from engactivity.config import DEFAULT_STORE_URL, Settings
from engactivity.store import MIN_RETENTION_MS, StoreURLError, open_store
from engactivity.timeframe import MINUTE_MS

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
        help="Store URL: sqlite:///relative/path.db or sqlite:////absolute/path.db.",
    ),
]


@app.callback()
def _root() -> None:
    """engactivity: a self-hosted Engagement Activity real-time metrics service."""


def fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(2)


@app.command()
def serve(
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
    sync: Annotated[
        str,
        typer.Option(
            envvar="ENGACTIVITY_SYNC",
            help="SQLite durability: full (survives power loss) or normal (survives crashes).",
        ),
    ] = "full",
    log_level: Annotated[str, typer.Option(envvar="ENGACTIVITY_LOG_LEVEL")] = "info",
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from engactivity.api import create_app

    if sync.lower() not in ("full", "normal"):
        raise fail("--sync must be 'full' or 'normal'")
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
        synchronous=sync.upper(),
    )
    try:
        opened = open_store(store, clock, settings.retention_ms, settings.synchronous)
    except (StoreURLError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    console.print(f"engactivity serving on http://{host}:{port} (store {store})")
    try:
        uvicorn.run(
            create_app(settings, clock, opened),
            host=host,
            port=port,
            log_level=log_level.lower(),
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        opened.close()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
