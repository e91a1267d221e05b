"""The ``engactivity`` command: one module per group of subcommands."""

from __future__ import annotations

import sys

import typer

from engactivity.cli import admin, serve, traffic
from engactivity.cli.accountconfig import ConfigCommand
from engactivity.cli.keys import keys_app
from engactivity.cli.users import users_app

app = typer.Typer(
    help="engactivity: a self-hosted Engagement Activity real-time metrics service.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """engactivity: a self-hosted Engagement Activity real-time metrics service."""


# In this order in `engactivity --help`.
app.command(
    "config",
    cls=ConfigCommand,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(serve.config_command)
app.command("serve")(serve.serve)
app.command("migrate")(admin.migrate_command)
app.command("backup")(admin.backup_command)
app.command("restore")(admin.restore_command)
app.command("import")(traffic.import_events)
app.command("simulate")(traffic.simulate)
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
