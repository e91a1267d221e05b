"""No import cycles in the package: every module imports on its own in a fresh
interpreter, and the module-level import graph has no cycle.

The graph counts the imports that run when a module is imported (those of its body,
``if TYPE_CHECKING`` blocks included, since they are cycles waiting for the flag to
change) and leaves out those inside functions, which run later.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "engactivity"
NOT_IMPORTABLE_ALONE = {"engactivity.__main__"}
"""Importing it runs the command line."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _import_alone(module: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    return module, "" if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


def test_every_module_imports_on_its_own() -> None:
    names = sorted(set(MODULES) - NOT_IMPORTABLE_ALONE)
    with ThreadPoolExecutor(max_workers=max(4, os.cpu_count() or 1)) as pool:
        failed = {module: error for module, error in pool.map(_import_alone, names) if error}
    assert failed == {}


def _body_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module's body runs, in blocks too, not those inside functions."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for field in ("body", "orelse", "finalbody"):
                yield from _body_imports(getattr(node, field, []))
            for clause in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:
                yield from _body_imports(clause.body)


def _target(name: str) -> str | None:
    """The package module ``name`` is, or is in (``pkg.mod.attr`` -> ``pkg.mod``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:n]) for n in range(1, len(parts))}


def _imports_of(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named: set[str] = set()
    for node in _body_imports(ast.parse(path.read_text()).body):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:  # relative: from the package, or one of its parents
            anchor = package.rsplit(".", node.level - 1)[0]
            base = f"{anchor}.{base}" if base else anchor
        named.add(base)
        named.update(f"{base}.{alias.name}" for alias in node.names)
    targets = {t for name in named if (t := _target(name))}
    # Importing a.b.c runs a and a.b first; a module's own packages are already running.
    implicit = {p for t in targets for p in _ancestors(t) if p in MODULES} - _ancestors(module)
    return (targets | implicit) - {module}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = {module: _imports_of(module) for module in MODULES}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"b2"}, "b2": {"b"}}, ["b", "b2", "b"]),
    ],
)
def test_cycles_are_found(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert _find_cycle(graph) == cycle


def test_the_graph_reads_what_runs_at_import() -> None:
    assert "engactivity.api.errors" in _imports_of("engactivity.api.access.middleware")
    assert "engactivity.auth" in _imports_of("engactivity.api.access.middleware")  # a package
    assert "engactivity.simulate" not in _imports_of("engactivity.api.app")  # in a function
    assert "engactivity.store" in _imports_of("engactivity.settings")  # from a package
    # Its own package is already running when a submodule is imported.
    assert "engactivity.store" not in _imports_of("engactivity.store.sqlite")
