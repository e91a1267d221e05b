"""engactivity config, the --config TOML file and the checks at start."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.api.test_ingest import connected
from tests.conftest import Server

MakeServer = Callable[..., Server]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENGACTIVITY_")}
    return subprocess.run(
        [sys.executable, "-m", "engactivity", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, "COLUMNS": "200", **(env or {})},
    )


def table(output: str) -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in output.splitlines()[1:]:
        flag, value, origin = line.split(maxsplit=2)
        rows[flag] = (value, origin.rsplit(" ENGACTIVITY_", 1)[0].strip())
    return rows


def test_config_shows_every_setting_and_where_it_came_from(tmp_path: Path) -> None:
    config = tmp_path / "engactivity.toml"
    config.write_text('port = 9000\nsync = "normal"\n\n[serve]\nretention-minutes = 2000\n')
    done = run(
        "config",
        "--config",
        str(config),
        "--port",
        "9100",
        "--store",
        "postgresql://reader:hunter2@db:5432/engactivity",
        env={"ENGACTIVITY_HOST": "0.0.0.0", "ENGACTIVITY_SYNC": "full"},
    )
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    rows = table(done.stdout)
    assert rows["--port"] == ("9100", "flag")
    assert rows["--host"] == ("0.0.0.0", "environment")
    assert rows["--sync"] == ("full", "environment")  # the variable wins over the file
    assert rows["--retention-minutes"] == ("2000", f"file {config}")
    assert rows["--store"] == ("postgresql://reader:***@db:5432/engactivity", "flag")
    assert rows["--max-batch-events"] == ("10000", "default")
    # Every serve option is listed, each with its variable.
    help_text = run("serve", "--help").stdout
    for flag in rows:
        assert flag in help_text
    for line in done.stdout.splitlines()[1:]:
        assert "ENGACTIVITY_" in line


def test_bad_configuration_fails_with_a_clear_message(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("prot = 8080\n")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1\n")
    cases = [
        (["--config", str(unknown)], "unknown setting 'prot'"),
        (["--config", str(broken)], "not valid TOML"),
        (["--config", str(tmp_path / "missing.toml")], "missing.toml"),
        (["--store", "mysql://db/x"], "unsupported store URL"),
        (["--sync", "fast"], "--sync"),
        (["--log-level", "loud"], "--log-level"),
        (["--retention-minutes", "60"], "retention-minutes"),
        (["--port", "http"], "--port"),
    ]
    # For serve, the flags of each case come last and win: none of them may start it.
    safe = ["--store", f"sqlite:///{tmp_path / 'never.db'}", "--port", "1"]
    for args, message in cases:
        for command in ("config", "serve"):
            done = run(command, *safe, *args) if command == "serve" else run(command, *args)
            assert done.returncode == 2, (command, args, done.stdout, done.stderr)
            assert message in done.stderr, (command, args, done.stderr)
    assert not (tmp_path / "never.db").exists()


def test_serve_reads_the_config_file(make_server: MakeServer, tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("[serve]\nmax-batch-events = 2\n")
    server = make_server(["--config", str(config)])
    assert server.send("acme", [connected("a"), connected("b")]).status_code == 200
    assert server.send("acme", [connected("c"), connected("d"), connected("e")]).status_code == 413
