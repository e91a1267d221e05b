"""``engactivity keys``: create, list and revoke API keys in a store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engactivity.auth.issuing import create_key
from engactivity.auth.keys import (
    KINDS,
    READ,
    KeyArgumentError,
    format_scopes,
    parse_scopes,
)
from engactivity.auth.keystore import KeyStore, open_keystore
from engactivity.auth.secretbox import MasterKeyError
from engactivity.store.url import DEFAULT_STORE_URL, check_store_url, mask_url

keys_app = typer.Typer(
    help="Create, list and revoke API keys (docs/security.md).", no_args_is_help=True
)
console = Console(stderr=True)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="ENGACTIVITY_STORE",
        help="Store URL, the same the server uses: keys live in its database.",
    ),
]
MasterKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--master-key-file",
        envvar="ENGACTIVITY_MASTER_KEY_FILE",
        dir_okay=False,
        help="File holding the key that seals OAuth 1.0a secrets (default for SQLite: "
        "the database path + .key, created when missing). ENGACTIVITY_MASTER_KEY "
        "(base64) wins over it.",
    ),
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(2)


def _open(store: str) -> KeyStore:
    try:
        check_store_url(store)
        return open_keystore(store)
    except Exception as exc:
        raise _fail(f"cannot open the store {mask_url(store)}: {exc}") from exc


@keys_app.command("create")
def create_command(
    account: Annotated[str, typer.Option("--account", help="The account the key belongs to.")],
    scope: Annotated[
        str, typer.Option("--scope", help="read (engactivity), write (ingestion) or read,write.")
    ] = READ,
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="oauth1 (app key, secret, access token and its secret) or bearer."
        ),
    ] = "oauth1",
    label: Annotated[str | None, typer.Option("--label", help="A note shown by keys list.")] = None,
    store: StoreOption = DEFAULT_STORE_URL,
    master_key_file: MasterKeyOption = None,
) -> None:
    """Create a key and print its credentials once, as JSON on stdout."""
    from engactivity.core.accounts import check_account_id
    from engactivity.core.problems import InvalidRequest

    try:
        check_account_id(account)
        scopes = parse_scopes(scope)
    except (InvalidRequest, KeyArgumentError) as exc:
        raise _fail(str(exc)) from exc
    if kind not in KINDS:
        raise _fail(f"--kind must be one of {', '.join(KINDS)}")
    keys = _open(store)
    try:
        made = create_key(keys, store, account, scopes, kind, label, master_key_file)
    except MasterKeyError as exc:
        raise _fail(str(exc)) from exc
    finally:
        keys.close()
    typer.echo(json.dumps(made.credentials))
    console.print(
        "Keep these credentials now: the secrets are not stored in clear and cannot be "
        "shown again.",
        highlight=False,
        soft_wrap=True,
    )


@keys_app.command("list")
def list_command(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account's keys.")
    ] = None,
    store: StoreOption = DEFAULT_STORE_URL,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """List keys (ids, accounts, scopes, dates; never secrets)."""
    keys = _open(store)
    try:
        records = keys.list(account)
    finally:
        keys.close()
    if as_json:
        typer.echo(json.dumps([r.listing() for r in records]))
        return
    typer.echo(f"{'key id':<34}{'account':<20}{'kind':<8}{'scopes':<12}{'status':<10}label")
    for r in records:
        status = "active" if r.active else "revoked"
        typer.echo(
            f"{r.key_id:<34}{r.account:<20}{r.kind:<8}{format_scopes(r.scopes):<12}"
            f"{status:<10}{r.label or ''}".rstrip()
        )


@keys_app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key id (keys list shows them).")],
    store: StoreOption = DEFAULT_STORE_URL,
) -> None:
    """Revoke a key: every server using the store refuses it from its next request."""
    keys = _open(store)
    try:
        record = keys.revoke(key_id, int(time.time() * 1000))
    finally:
        keys.close()
    if record is None:
        raise _fail(f"no key {key_id!r} in {mask_url(store)}")
    typer.echo(json.dumps(record.listing()))
