"""engactivity config, the --config TOML file and the checks at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from engactivity.logs import is_secret_name
from engactivity.settings import Setting, Settings, declared
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


# -- the options are made from the Settings declaration: none can be forgotten ----------------


def other_values() -> dict[str, object]:
    """Per setting, an acceptable value other than its default."""
    values: dict[str, object] = {}
    types = typing.get_type_hints(Settings)
    for each, spec in declared():
        if isinstance(each.default, bool):
            values[each.name] = True
        elif isinstance(each.default, int):
            values[each.name] = each.default + 1
        elif isinstance(each.default, float):
            values[each.name] = each.default + 0.5
        elif types[each.name] == int | None:
            values[each.name] = 8090
        elif spec.choices:
            values[each.name] = next(c for c in spec.choices if c != each.default)
        elif each.name == "store":
            values[each.name] = "sqlite:///./elsewhere.db"
        else:
            values[each.name] = f"{each.name}-value"
    return values


def test_serve_help_lists_every_setting_with_its_variable() -> None:
    help_text = run("serve", "--help").stdout
    for _, spec in declared():
        assert spec.flag in help_text, spec.flag
        assert spec.env in help_text, spec.env


def test_config_lists_every_setting_in_order_with_its_variable() -> None:
    done = run("config")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[1:]
    assert [line.split()[0] for line in lines] == [spec.flag for _, spec in declared()]
    for line, (_, spec) in zip(lines, declared(), strict=True):
        assert line.split()[-2:] == ["default", spec.env], line


@pytest.mark.parametrize("source", ["flag", "environment", "file"])
def test_every_setting_can_be_given_by_flag_variable_or_file(source: str, tmp_path: Path) -> None:
    values = other_values()
    args: list[str] = []
    env: dict[str, str] = {}
    toml: list[str] = []
    for each, spec in declared():
        value = values[each.name]
        text = "true" if value is True else str(value)
        args += [spec.flag] if value is True else [spec.flag, text]
        env[spec.env] = text
        toml.append(f"{each.name.replace('_', '-')} = {json.dumps(value)}")
    config = tmp_path / "every.toml"
    config.write_text("\n".join(toml) + "\n")
    given = {"flag": args, "environment": [], "file": ["--config", str(config)]}[source]
    done = run("config", *given, env=env if source == "environment" else None)
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    origin = f"file {config}" if source == "file" else source
    for each, spec in declared():
        value = values[each.name]
        shown = "***" if is_secret_name(each.name) else str(value).lower()
        assert rows[spec.flag] == (shown, origin), each.name


@pytest.mark.parametrize(
    "spec", [spec for _, spec in declared() if spec.min is not None], ids=lambda s: s.flag
)
def test_config_refuses_a_value_out_of_range_naming_the_flag(spec: Setting) -> None:
    assert spec.min is not None
    done = run("config", spec.flag, str(spec.min - 1))
    assert done.returncode == 2, done.stdout
    assert f"Invalid value for '{spec.flag}'" in done.stderr, done.stderr
    by_variable = run("config", env={spec.env: str(spec.min - 1)})
    assert by_variable.returncode == 2, by_variable.stdout
    assert spec.flag in by_variable.stderr and spec.env in by_variable.stderr
