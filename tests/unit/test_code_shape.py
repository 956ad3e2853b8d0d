"""The package's shape rules (issues 16 and 28): modules and functions that read in one screen,
a docstring on every module, no private names imported from another module, no import circle
between modules, and no import from a lower layer of the pipeline up to a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "probe_rnn"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(path: Path, *, top_level_only: bool) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every ``from probe_rnn... import`` in the file."""
    tree = _tree(path)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("probe_rnn"):
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("probe_rnn")]
    return found


def test_the_rules_see_the_package():
    assert len(MODULES) > 50 and PACKAGE.joinpath("catalogue.py") in MODULES
    assert PACKAGE.joinpath("run", "pipeline.py") in MODULES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_module_has_a_docstring_and_fits_the_limits(path):
    tree = _tree(path)
    if path.name != "__init__.py" or path.read_text().strip():
        assert ast.get_docstring(tree), f"{_name(path)} has no module docstring"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines (limit {MAX_MODULE_LINES})"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{_name(path)}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_no_private_name_is_imported_from_another_module(path):
    private = [f"{module}.{name}" for module, names in _imports(path, top_level_only=False)
               for name in names if name.startswith("_") and not name.startswith("__")]
    assert not private, f"{_name(path)} imports private names: {', '.join(private)}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle_between_modules():
    """Module-level and function-level imports alike: a lazy import is still a circle in the
    design. A package's ``__init__`` re-exporting its own modules is not counted (it is the
    package's front door)."""
    names = {_name(p): p for p in MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        if path.name == "__init__.py":
            continue
        targets = set()
        for module, imported in _imports(path, top_level_only=False):
            for target in [f"{module}.{n}" for n in imported] + [module]:
                if target in names and target != name and names[target].name != "__init__.py":
                    targets.add(target)
                    break
        graph[name] = targets
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph))}"


#: The pipeline's layers, lowest first: a module may import from its own layer or a lower one.
#: Shared foundations, then the stages in the order a run goes, then the run, then the CLI.
LAYERS = [
    {"probe_rnn", "errors", "lazy_exports"},
    {"atomic", "catalogue", "hashing", "progress", "usercode", "validation", "run_folder",
     "run_record", "json_records", "cluster", "plugins", "caches"},
    {"data"}, {"models"}, {"capture"}, {"probing"}, {"attribution"}, {"interventions"}, {"studies"},
    {"report"},
    {"run"}, {"commands"}, {"cli", "__main__"},
]
RANK = {part: rank for rank, layer in enumerate(LAYERS) for part in layer}
NAMES = {_name(p) for p in MODULES}


def _part(module: str) -> str:
    """The top-level part of ``probe_rnn.X.Y`` (``probe_rnn`` itself for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "probe_rnn"


def _upward_imports(path: Path) -> list[str]:
    source = _part(_name(path))
    found = []
    for module, imported in _imports(path, top_level_only=False):
        targets = [_part(f"{module}.{n}") if f"{module}.{n}" in NAMES else "probe_rnn"
                   for n in imported] if module == "probe_rnn" else [_part(module)]
        found += [f"{module} ({t})" for t in targets if RANK[t] > RANK[source]]
    return found


def test_every_top_level_part_has_a_layer():
    parts = {_part(_name(p)) for p in MODULES}
    assert parts - set(RANK) == set(), "give these a layer in LAYERS"
    assert set(RANK) - parts - {"probe_rnn"} == set(), "LAYERS names parts that are gone"


def test_the_layer_rule_catches_an_upward_import(tmp_path):
    fake = PACKAGE / "data" / "x.py"  # judged by its name only, never written
    assert RANK[_part(_name(fake))] < RANK["report"]
    assert [t for t in ["probe_rnn.report.build"] if RANK[_part(t)] > RANK[_part(_name(fake))]]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_no_import_runs_from_a_lower_layer_up(path):
    """Capture knows nothing of probing, the report never calls back into the run, and so on
    (DESIGN.md, "Arrows point one way"); lazy imports count too."""
    upward = _upward_imports(path)
    assert not upward, f"{_name(path)} (layer {RANK[_part(_name(path))]}) imports upward: " \
                       f"{', '.join(upward)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _name(p))
def test_only_a_package_front_door_lists_public_names(path):
    """``__all__`` lives in ``__init__.py`` files only (Captum's manner): a module is
    implementation, and what a user imports is what its package (or ``probe_rnn``) exports."""
    declares = any(isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        for node in _tree(path).body)
    assert path.name == "__init__.py" or not declares, f"{_name(path)} declares __all__"
