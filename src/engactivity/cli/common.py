"""What the commands share: the console, the error line, the --store and --json options."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

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


def fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(2)
