"""``engactivity serve`` and ``engactivity config``: the settings, and serving them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from engactivity.cli.common import console, fail
from engactivity.cli.options import ConfigFileOption, print_settings, with_settings
from engactivity.clock import clock_from_env
from engactivity.logs import setup_logging
from engactivity.service import Service, ServiceError
from engactivity.settings import Settings
from engactivity.store.url import check_store_url


def config_command(ctx: typer.Context) -> None:
    """Print the effective configuration of `serve`, secrets masked, and check it.

    Takes the same flags, ENGACTIVITY_* variables and --config file as `serve`;
    exits with status 2 and a message when the configuration is wrong.

    `engactivity config import FILE --account ID` loads an account's skills, users
    and agent groups instead (`engactivity config import --help`).
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
    try:
        Service(settings, clock).run()
    except ServiceError as exc:
        raise fail(str(exc)) from exc
