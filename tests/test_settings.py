"""The Settings declaration: names, checks and the units the code works in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engactivity.settings import Setting, Settings, declared, physical_memory
from engactivity.store import MIN_RETENTION_MS

DECLARED = list(declared())


def test_every_field_is_declared_with_its_flag_variable_and_help() -> None:
    assert [each.name for each, _ in DECLARED] == [f.name for f in dataclasses.fields(Settings)]
    for each, spec in DECLARED:
        assert isinstance(spec, Setting)
        # The field's name is the flag's, the key of a --config file and the variable's.
        assert spec.flag == "--" + each.name.replace("_", "-"), each.name
        assert spec.env == "ENGACTIVITY_" + each.name.upper(), each.name
        assert spec.help.strip(), each.name
        if spec.min is not None:
            assert each.default >= spec.min, each.name
        if spec.choices:
            assert each.default in spec.choices, each.name


def test_the_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8080, 1)
    assert settings.store == settings.store_url == "sqlite:///./data/engactivity.db"
    assert settings.retention_ms == MIN_RETENTION_MS
    assert settings.answer_cache_bytes == 256 * 1024 * 1024
    assert settings.max_concurrent_per_account == 64
    assert settings.synchronous == "FULL"
    assert settings.auth is True
    assert settings.advertised_host == "127.0.0.1:8080"
    assert settings.session_idle_minutes == 30
    assert settings.session_idle_ms == 30 * 60_000


def test_properties_give_the_units_the_code_works_in() -> None:
    settings = Settings(
        retention_minutes=2000,
        answer_cache_mb=0,
        sync="Normal",
        insecure_no_auth=True,
        public_host="metrics.example.com",
        max_concurrent=3,
        session_idle_minutes=2,
    )
    assert settings.session_idle_ms == 120_000
    assert settings.retention_ms == 2000 * 60_000
    assert settings.answer_cache_bytes == 0
    assert settings.synchronous == "NORMAL"
    assert settings.auth is False
    assert settings.advertised_host == "metrics.example.com"
    assert settings.max_concurrent_per_account == 3


@pytest.mark.parametrize(
    ("name", "spec"), [(each.name, spec) for each, spec in DECLARED if spec.min is not None]
)
def test_a_value_below_the_minimum_is_refused_naming_the_flag(name: str, spec: Setting) -> None:
    assert spec.min is not None
    Settings(**{name: spec.min})
    with pytest.raises(ValueError, match=f"^{spec.flag} must be at least {spec.min}$"):
        Settings(**{name: spec.min - 1})


@pytest.mark.parametrize(
    ("name", "spec"), [(each.name, spec) for each, spec in DECLARED if spec.choices]
)
def test_choices_are_accepted_in_any_case_and_others_refused(name: str, spec: Setting) -> None:
    for choice in spec.choices:
        Settings(**{name: choice.upper()})
    with pytest.raises(ValueError, match=spec.flag):
        Settings(**{name: "nonsense"})


def test_the_messages_for_refused_choices_are_unchanged() -> None:
    cases = {
        "sync": "--sync must be 'full' or 'normal'",
        "log_level": "--log-level must be debug, info, warning or error",
        "log_format": "--log-format: log format must be one of text, json, not 'xml'",
    }
    for name, message in cases.items():
        with pytest.raises(ValueError) as refused:
            Settings(**{name: "XML" if name == "log_format" else "fast"})
        assert str(refused.value) == message


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 1  # type: ignore[misc]


def test_docs_configuration_has_a_row_for_every_setting() -> None:
    docs = Path(__file__).parents[1] / "docs" / "configuration.md"
    text = docs.read_text()
    for _, spec in DECLARED:
        assert f"| `{spec.flag}` | `{spec.env}` |" in text, spec.flag


def test_memory_mb_is_given_in_mebibytes_or_sized_for_the_machine() -> None:
    assert Settings(memory_mb=3).memory_bytes == 3 * 1024 * 1024
    assert Settings(memory_mb=0.01).memory_bytes == 10_485  # below one test account
    machine = physical_memory()
    assert machine > 0
    half = max(256 * 1024 * 1024, machine // 2)
    assert Settings().memory_bytes == half
    assert Settings(workers=4).memory_bytes == max(256 * 1024 * 1024, machine // 2 // 4)
    with pytest.raises(ValueError, match="--memory-mb must be at least 0"):
        Settings(memory_mb=-1)
    with pytest.raises(ValueError, match="--memory-mb must be at least 0"):
        Settings(memory_mb=-0.5)
