"""Every third-party module probe_rnn imports is declared in pyproject's base dependencies, so
``pip install probe-rnn`` without extras imports and runs; an extra's module (Dask for
``[cluster]``) may only be imported inside a function, where nothing imports it unless that
feature is used, and an import inside ``try: ... except ImportError`` is optional."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "probe_rnn"


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement (``scikit-learn>=1.4`` ->
    ``scikit-learn``, ``dask[distributed]`` -> ``dask``)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement)[0]).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project.get("optional-dependencies", {}).values()
              for r in reqs}
    extras |= {"distributed", "cloudpickle"} if "dask" in extras else set()  # dask[distributed]
    return base, extras


def _optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a ``try`` whose handlers catch ImportError (or ModuleNotFoundError)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if caught & {"ImportError", "ModuleNotFoundError"}:
                return True
    return False


def _in_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return True
    return False


def _imports() -> list[tuple[str, str, bool, bool]]:
    """(file, top-level module, inside a function, optional) of every absolute import."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "probe_rnn":
                    continue
                found.append((path.relative_to(ROOT).as_posix(), top,
                              _in_function(node, parents), _optional(node, parents)))
    return found


def test_every_import_is_declared_in_the_base_dependencies():
    base, extras = _declared()
    modules = packages_distributions()
    undeclared = []
    for file, module, in_function, optional in _imports():
        dists = {_name(d) for d in modules.get(module, [module])}
        if dists & base or optional or (in_function and dists & extras):
            continue
        undeclared.append(f"{file}: import {module} ({', '.join(sorted(dists))})")
    assert not undeclared, "imports missing from pyproject's dependencies: " + "; ".join(
        undeclared)


def test_the_check_sees_the_imports_it_judges():
    seen = {(file, module) for file, module, _, _ in _imports()}
    assert ("probe_rnn/commands/common.py", "typer") in seen  # imported at module level
    assert any(module == "dask" for _, module, _, _ in _imports())  # the [cluster] extra
    assert _name("dask[distributed]>=2024.8") == "dask" and _name("Scikit_Learn>=1") == \
        "scikit-learn"
