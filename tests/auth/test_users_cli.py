"""``engactivity users`` through the real command line, on a SQLite file and on PostgreSQL.

Passwords come on standard input (``--password-stdin``) or, in a real terminal (a
pseudo-terminal here), from a prompt that must not echo them.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engactivity.auth.passwords import verify_password
from tests.auth.loginhelp import create_user, users_cli
from tests.conftest import ENGINES, new_pg_database


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return new_pg_database()


def stored_hashes(store_url: str) -> dict[str, str]:
    """login name -> the stored password hash, read from the database itself."""
    sql = "SELECT login_name, password_hash FROM login_user"
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        import sqlite3

        conn2 = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        try:
            rows = conn2.execute(sql).fetchall()
        finally:
            conn2.close()
    return {str(name): str(hashed) for name, hashed in rows}


def listed(store_url: str, *args: str) -> list[dict[str, Any]]:
    done = users_cli("list", "--json", "--store", store_url, *args)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def test_create_list_passwd_remove(store_url: str) -> None:
    alice = create_user(
        store_url, "1234", "alice", "first password", "--full-name", "Alice Example",
        "--nickname", "Ali",
    )  # fmt: skip
    assert alice["userId"] == 1 and alice["loginName"] == "alice"
    assert (alice["fullName"], alice["nickname"]) == ("Alice Example", "Ali")
    assert set(alice) == {
        "account", "userId", "loginName", "fullName", "nickname", "createdMs", "passwordChangedMs",
    }  # fmt: skip
    bob = create_user(store_url, "1234", "bob", "second password", "--user-id", "1033")
    carol = create_user(store_url, "1234", "carol", "third password")
    assert (bob["userId"], carol["userId"]) == (1033, 1034)  # the highest plus one
    create_user(store_url, "5678", "alice", "other account")

    assert [u["loginName"] for u in listed(store_url)] == ["alice", "bob", "carol", "alice"]
    assert [u["account"] for u in listed(store_url, "--account", "5678")] == ["5678"]
    table = users_cli("list", "--store", store_url)
    assert table.returncode == 0, table.stderr
    assert "Alice Example" in table.stdout and "1033" in table.stdout
    assert "scrypt" not in table.stdout + json.dumps(listed(store_url))

    hashes = stored_hashes(store_url)
    assert hashes["bob"].startswith("scrypt$ln=15,r=8,p=1$")
    assert "second password" not in hashes["bob"]
    assert verify_password("second password", hashes["bob"])
    assert not verify_password("second passwort", hashes["bob"])
    assert hashes["alice"] != hashes["carol"]

    time.sleep(0.01)
    args = ("bob", "--account", "1234", "--store", store_url)
    done = users_cli("passwd", *args, password="a new password")
    assert done.returncode == 0, done.stderr
    changed = json.loads(done.stdout)
    assert changed["sessionsEnded"] == 0 and changed["passwordChangedMs"] > bob["createdMs"]
    assert verify_password("a new password", stored_hashes(store_url)["bob"])

    done = users_cli("remove", *args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["userId"] == 1033
    assert [u["loginName"] for u in listed(store_url, "--account", "1234")] == ["alice", "carol"]
    for again in (users_cli("remove", *args), users_cli("passwd", *args, password="whatever!")):
        assert again.returncode == 2
        assert "no user 'bob' in account 1234" in again.stderr


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["alice", "--account", "1234"], "first password", "has a user 'alice' already"),
        (["other", "--account", "1234", "--user-id", "1"], "a password!", "user id 1 is"),
        (["other", "--account", "1234", "--user-id", "0"], "a password!", "user id must be"),
        (["x", "--account", "a;b"], "a password!", "invalid account id"),
        ([" padded", "--account", "1234"], "a password!", "without spaces at the ends"),
        (["tab\there", "--account", "1234"], "a password!", "control characters"),
        (["other", "--account", "1234"], "short", "8 to 1024 characters"),
        (["other", "--account", "1234", "--nickname", ""], "a password!", "the nickname must"),
    ],
)
def test_create_refuses_with_a_clear_message(
    tmp_path: Path, args: list[str], password: str, message: str
) -> None:
    store = f"sqlite:///{tmp_path}/store.db"
    create_user(store, "1234", "alice", "first password")
    done = users_cli("create", *args, "--store", store, password=password)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr, done.stderr
    assert [u["loginName"] for u in listed(store)] == ["alice"]


def test_without_a_terminal_the_password_must_come_on_stdin(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/store.db"
    done = users_cli("create", "alice", "--account", "1234", "--store", store)
    assert done.returncode == 2
    assert "--password-stdin" in done.stderr
    assert listed(store) == []


def run_in_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run ``engactivity ARGS`` on a pseudo-terminal, typing each answer once a prompt
    waits for it; its exit status and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its controlling terminal and stdio
        os.execv(sys.executable, [sys.executable, "-m", "engactivity", *args])
    shown = b""
    answered_at = 0
    pending = list(answers)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            # getpass writes the prompt's last space once echo is off and the terminal's
            # input flushed: typing before that would be thrown away.
            if pending and len(shown) > answered_at and shown.endswith(b": "):
                os.write(fd, pending.pop(0).encode() + b"\n")
                answered_at = len(shown)
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def test_the_prompt_does_not_echo_the_password(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/store.db"
    secret = "typed in secret"
    args = ["users", "create", "alice", "--account", "1234", "--store", store]
    status, shown = run_in_terminal(args, [secret, secret])
    assert status == 0, shown
    assert "Password" in shown and "confirmation" in shown.lower()
    assert secret not in shown
    assert verify_password(secret, stored_hashes(store)["alice"])

    status, shown = run_in_terminal(
        ["users", "passwd", "alice", "--account", "1234", "--store", store],
        ["new secret one", "another secret", "new secret one", "new secret one"],
    )
    assert status == 0, shown
    assert "do not match" in shown.lower()  # a typo is caught and asked again
    assert "secret" not in shown
    assert verify_password("new secret one", stored_hashes(store)["alice"])
