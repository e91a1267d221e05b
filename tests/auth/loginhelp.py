"""Users made the real way (``engactivity users ...`` as a subprocess) and logins as the
published clients make them (``requests``, JSON bodies, a session keeping the cookie)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import requests

from tests.conftest import Server


def users_cli(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """``engactivity users ARGS``; ``password`` is given on stdin (``--password-stdin``)."""
    extra = ["--password-stdin"] if password is not None else []
    return subprocess.run(
        [sys.executable, "-m", "engactivity", "users", *args, *extra],
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def create_user(
    store_url: str, account: str, login_name: str, password: str, *more: str
) -> dict[str, Any]:
    done = users_cli(
        "create", login_name, "--account", account, "--store", store_url, *more, password=password
    )
    assert done.returncode == 0, done.stderr
    made: dict[str, Any] = json.loads(done.stdout)
    return made


def login_url(srv: Server, account: str, what: str = "login") -> str:
    return f"{srv.base_url}/api/account/{account}/{what}"


def login(
    srv: Server,
    account: str,
    username: str,
    password: str,
    session: requests.Session | None = None,
) -> requests.Response:
    """POST .../login?v=1.3 as the community wrapper sends it."""
    post = session.post if session is not None else requests.post
    return post(
        login_url(srv, account),
        params={"v": "1.3"},
        json={"username": username, "password": password},
        headers={"content-type": "application/json", "accept": "application/json"},
        timeout=30,
    )


def read(srv: Server, account: str, bearer: str) -> requests.Response:
    """An engactivity query with a session's bearer."""
    return requests.get(
        f"{srv.base_url}/operations/api/account/{account}/engactivity",
        params={"timeframe": 60, "v": 1},
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=30,
    )
