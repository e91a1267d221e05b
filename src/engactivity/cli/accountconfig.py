"""``engactivity config import FILE``: an account's skills, users and agent groups from a
configuration document (docs/ingestion.md), into a store or a server.

``engactivity config`` itself prints the settings of ``serve`` and takes its flags, so
``import`` is recognized as its first word before those flags are parsed
(``ConfigCommand``); everything after it belongs to the import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from engactivity.cli.common import JsonOption, StoreOption, console, fail
from engactivity.store.url import DEFAULT_STORE_URL

if TYPE_CHECKING:
    from engactivity.accountconfig.store import Applied
    from engactivity.core.problems import InvalidRequest

IMPORT_WORD = "import"
_IMPORT_ARGS = "engactivity.config.import"

import_app = typer.Typer(add_completion=False)


@import_app.command()
def import_configuration(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The configuration document (JSON)."
        ),
    ],
    account: Annotated[
        str, typer.Option("--account", envvar="ENGACTIVITY_ACCOUNT", help="The account id.")
    ],
    store: StoreOption = DEFAULT_STORE_URL,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="ENGACTIVITY_URL",
            help="Send to this engactivity server (its write key in ENGACTIVITY_TOKEN) "
            "instead of writing to --store.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load an account's skills, users and agent groups from a JSON document.

    Entities are given whole and written in one go: importing the same file again
    changes nothing. Exit status: 0 when stored, 1 when the document is invalid
    (nothing is stored), 2 on errors.
    """
    from engactivity.accountconfig.delivery import DeliveryError
    from engactivity.clock import clock_from_env
    from engactivity.core.accounts import check_account_id
    from engactivity.core.problems import InvalidRequest

    body = file.read_bytes()
    clock, _ = clock_from_env()
    try:
        check_account_id(account)
        applied = send_document(account, body, url=url, store=store, now_ms=clock())
    except InvalidRequest as invalid:
        _print_problems(file, invalid, as_json)
        raise typer.Exit(1) from invalid
    except (DeliveryError, ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps({"account": account, **applied.as_json()}))
    else:
        console.print(
            f"account {account!r}: revision {applied.revision}, "
            f"{applied.changed} changed, {applied.unchanged} unchanged",
            markup=False,
        )


def send_document(
    account: str, body: bytes, *, url: str | None, store: str, now_ms: int
) -> Applied:
    """The document to the server at ``url`` (with the key in ENGACTIVITY_TOKEN), or else
    into the store ``store``; DeliveryError or InvalidRequest when it is not written."""
    from engactivity.accountconfig.delivery import DeliveryError, post_document, store_document
    from engactivity.sinks import TOKEN_ENV

    if not url:
        return store_document(store, account, body, now_ms)
    try:
        return post_document(url, account, body, os.environ.get(TOKEN_ENV))
    except DeliveryError as exc:
        if exc.status in (401, 403):
            hint = f"set {TOKEN_ENV} to a write key of account {account!r}"
            raise DeliveryError(f"{exc} ({hint})", exc.status) from exc
        raise


def _print_problems(file: Path, invalid: InvalidRequest, as_json: bool) -> None:
    if as_json:  # what the write API answers with a 400
        from engactivity.api.errors import invalid_body

        typer.echo(invalid_body(invalid.problems).decode())
        return
    console.print(f"{file}: the document is invalid; nothing was stored", markup=False)
    for problem in invalid.problems:
        console.print(
            f"  {problem.field}: {problem.message} (allowed: {problem.allowed})", markup=False
        )


class ConfigCommand(TyperCommand):
    """``engactivity config``, which also runs ``engactivity config import ...``.

    (Contexts are typed Any: typer's are those of the click it vendors.)
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args[:1] == [IMPORT_WORD]:
            ctx.meta[_IMPORT_ARGS] = args[1:]
            return super().parse_args(ctx, [])
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        rest = ctx.meta.get(_IMPORT_ARGS)
        if rest is None:
            return super().invoke(ctx)
        command = typer.main.get_command(import_app)
        return command.main(rest, prog_name="engactivity config import")
