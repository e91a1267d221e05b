"""``engactivity migrate``, ``backup`` and ``restore``: looking after a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engactivity.cli.common import JsonOption, StoreOption, fail
from engactivity.store import StoreUnavailable, StoreURLError
from engactivity.store.url import DEFAULT_STORE_URL, mask_url


def migrate_command(store: StoreOption = DEFAULT_STORE_URL) -> None:
    """Create or upgrade the store's schema (also done at every start). Idempotent."""
    from engactivity.methods import tables_of
    from engactivity.store import migrate_store

    try:
        version = migrate_store(store, tables_of())
    except (StoreURLError, StoreUnavailable, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"{mask_url(store)}: schema version {version}")


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
