"""``engactivity users``: create, list and remove the users of the Login Service, and
set their passwords.

Passwords are read from a prompt that does not echo them (twice, to catch a typo), or
with ``--password-stdin`` as the first line of standard input (for scripts): never
from the command line, where other users of the machine could read them.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from engactivity.auth.login import LoginStores, open_login_stores
from engactivity.auth.passwords import PasswordError, check_new_password, hash_password
from engactivity.auth.users import UserError, UserRecord, check_name, check_user_id
from engactivity.cli.common import StoreOption, fail
from engactivity.settings import Settings
from engactivity.store import open_database
from engactivity.store.url import DEFAULT_STORE_URL, check_store_url, mask_url

users_app = typer.Typer(
    help="Create, list and remove the users who log in (docs/security.md).",
    no_args_is_help=True,
)

AccountOption = Annotated[str, typer.Option("--account", help="The account of the user.")]
LoginName = Annotated[
    str, typer.Argument(metavar="LOGIN_NAME", help="The user's login name (case-sensitive).")
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]


@contextmanager
def _stores(store: str) -> Iterator[LoginStores]:
    try:
        check_store_url(store)
        db = open_database(store)
    except Exception as exc:
        raise fail(f"cannot open the store {mask_url(store)}: {exc}") from exc
    try:
        stores = open_login_stores(db, store, Settings().session_idle_ms)
    except Exception as exc:
        db.close()
        raise fail(f"cannot open the store {mask_url(store)}: {exc}") from exc
    try:
        yield stores
    finally:
        stores.close()
        db.close()


def _password(from_stdin: bool) -> str:
    """The new password, from stdin or a prompt that does not echo it; checked."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise fail("no terminal to ask for the password: give it with --password-stdin")
    try:
        check_new_password(password)
    except PasswordError as exc:
        raise fail(str(exc)) from exc
    return password


def _checked(account: str, login_name: str) -> None:
    from engactivity.core.accounts import check_account_id
    from engactivity.core.problems import InvalidRequest

    try:
        check_account_id(account)
        check_name(login_name, "the login name")
    except (InvalidRequest, UserError) as exc:
        raise fail(str(exc)) from exc


@users_app.command("create")
def create_command(
    login_name: LoginName,
    account: AccountOption,
    full_name: Annotated[str | None, typer.Option("--full-name", help="Shown name.")] = None,
    nickname: Annotated[str | None, typer.Option("--nickname", help="Short name.")] = None,
    user_id: Annotated[
        int | None,
        typer.Option(
            "--user-id",
            help="The numeric user id (the agent id of the events, when the user is an "
            "agent); default: the account's highest plus one.",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    store: StoreOption = DEFAULT_STORE_URL,
) -> None:
    """Create a user; print it as JSON (never the password or its hash)."""
    _checked(account, login_name)
    try:
        for value, what in ((full_name, "the full name"), (nickname, "the nickname")):
            if value is not None:
                check_name(value, what)
        if user_id is not None:
            check_user_id(user_id)
    except UserError as exc:
        raise fail(str(exc)) from exc
    password_hash = hash_password(_password(password_stdin))
    now_ms = int(time.time() * 1000)
    user = UserRecord(
        account, user_id or 0, login_name, full_name, nickname, password_hash, now_ms, now_ms
    )
    with _stores(store) as stores:
        try:
            made = stores.users.add(user)
        except UserError as exc:
            raise fail(str(exc)) from exc
    typer.echo(json.dumps(made.listing()))


@users_app.command("list")
def list_command(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account's users.")
    ] = None,
    store: StoreOption = DEFAULT_STORE_URL,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """List users (never passwords or their hashes)."""
    with _stores(store) as stores:
        users = stores.users.list(account)
    if as_json:
        typer.echo(json.dumps([u.listing() for u in users]))
        return
    typer.echo(f"{'account':<20}{'user id':<14}{'login name':<24}{'full name':<24}nickname")
    for u in users:
        typer.echo(
            f"{u.account:<20}{u.user_id:<14}{u.login_name:<24}{u.full_name or '':<24}"
            f"{u.nickname or ''}".rstrip()
        )


@users_app.command("remove")
def remove_command(
    login_name: LoginName, account: AccountOption, store: StoreOption = DEFAULT_STORE_URL
) -> None:
    """Remove a user; the user's sessions end at once on every server."""
    _checked(account, login_name)
    with _stores(store) as stores:
        removed = stores.users.remove(account, login_name)
        if removed is None:
            raise fail(f"no user {login_name!r} in account {account}")
        ended = stores.sessions.end_user(account, removed.user_id)
    typer.echo(json.dumps({**removed.listing(), "sessionsEnded": ended}))


@users_app.command("passwd")
def passwd_command(
    login_name: LoginName,
    account: AccountOption,
    password_stdin: PasswordStdin = False,
    store: StoreOption = DEFAULT_STORE_URL,
) -> None:
    """Set a user's password; the user's sessions end at once on every server."""
    _checked(account, login_name)
    with _stores(store) as stores:
        if stores.users.find(account, login_name) is None:
            raise fail(f"no user {login_name!r} in account {account}")
        password_hash = hash_password(_password(password_stdin))
        changed = stores.users.set_password(
            account, login_name, password_hash, int(time.time() * 1000)
        )
        if changed is None:
            raise fail(f"no user {login_name!r} in account {account}")
        ended = stores.sessions.end_user(account, changed.user_id)
    typer.echo(json.dumps({**changed.listing(), "sessionsEnded": ended}))
