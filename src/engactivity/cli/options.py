"""The command line of ``serve`` and ``config``, made from the Settings declaration.

Each Settings field becomes one typer option (its flag, variable, help, default and
minimum), so ``serve --help`` and ``config`` list every setting and none can be
forgotten; the --config file fills the same options, below flags and variables.
"""

from __future__ import annotations

import inspect
import tomllib
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from engactivity.logs import is_secret_name
from engactivity.settings import Settings, declared
from engactivity.store.url import mask_url


def with_settings(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per Settings field; their values come in ``**values``.

    typer reads a command's options from its signature, so the signature is rewritten:
    the options go after the positional parameters and before the keyword-only ones.
    """
    own = inspect.signature(command, eval_str=True).parameters.values()
    keyword = inspect.Parameter.KEYWORD_ONLY
    before = [p for p in own if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    after = [p for p in own if p.kind is keyword]
    types = typing.get_type_hints(Settings)
    options = [
        inspect.Parameter(
            each.name,
            keyword,
            default=typer.Option(
                each.default, spec.flag, envvar=spec.env, help=spec.help, min=spec.min
            ),
            annotation=types[each.name],
        )
        for each, spec in declared()
    ]
    command.__signature__ = inspect.Signature([*before, *options, *after])  # type: ignore[attr-defined]
    return command


def _load_config_file(
    ctx: typer.Context, param: typer.CallbackParam, value: Path | None
) -> Path | None:
    """Read the TOML file into click's default map: below flags and variables."""
    if value is None or ctx.resilient_parsing:
        return value
    try:
        data = tomllib.loads(value.read_text())
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {value}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise typer.BadParameter(f"{value} is not valid TOML: {exc}") from exc
    # Top-level keys and a [serve] table are both read; the table wins.
    table = data.get("serve", {})
    if not isinstance(table, dict):
        raise typer.BadParameter(f"{value}: [serve] must be a table")
    section = {**{k: v for k, v in data.items() if k != "serve"}, **table}
    known = sorted(each.name for each, _ in declared())
    values: dict[str, object] = {}
    for key, setting in section.items():
        name = key.replace("-", "_")
        if name not in known:
            raise typer.BadParameter(
                f"{value}: unknown setting {key!r}; known: "
                + ", ".join(k.replace("_", "-") for k in known)
            )
        values[name] = setting
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="ENGACTIVITY_CONFIG",
        dir_okay=False,
        is_eager=True,
        callback=_load_config_file,
        help="TOML file of settings (the flag names as keys); flags and "
        "ENGACTIVITY_* variables win over it.",
    ),
]


def print_settings(ctx: typer.Context, settings: Settings, config_file: Path | None) -> None:
    """Every setting: its value (secrets masked), where it came from, its variable."""
    sources = {
        "COMMANDLINE": "flag",
        "ENVIRONMENT": "environment",
        "DEFAULT_MAP": f"file {config_file}",
        "DEFAULT": "default",
    }
    rows = [("setting", "value", "from", "variable")]
    for each, spec in declared():
        source = ctx.get_parameter_source(each.name)
        origin = sources.get(source.name, "default") if source is not None else "default"
        rows.append((spec.flag, _masked(each.name, getattr(settings, each.name)), origin, spec.env))
    width, vwidth, owidth = (max(len(row[column]) for row in rows) + 2 for column in range(3))
    for flag, shown, origin, env in rows:
        typer.echo(f"{flag:<{width}}{shown:<{vwidth}}{origin:<{owidth}}{env}".rstrip())


def _masked(name: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if name == "store":
        return mask_url(str(value))
    if is_secret_name(name):
        return "***"
    return str(value).lower() if isinstance(value, bool) else str(value)
