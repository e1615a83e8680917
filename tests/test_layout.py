"""The import rules the package's layout states. Only `pytest_wamrobust.plugin` imports
pytest, so the core, the simulators, the policies, the records and the `wamrobust`
command work (and are tested) without it, and a newcomer finds the pytest layer in one
place. And every layer imports only the layers below it (string imports included): the
core is a ground floor, simulators and policies plug into it and know nothing of the
pytest plugin, the command line, Ray or the JUnit records."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pytest_wamrobust.core.model import entry_points

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_wamrobust"
PYTEST_MODULES = ("pytest", "_pytest")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_plugin_package_imports_pytest():
    offenders = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "plugin"
        and imported_modules(path) & set(PYTEST_MODULES))
    assert offenders == []


def test_the_rule_test_sees_the_plugin_importing_pytest():
    """Guard against a checker that finds nothing anywhere."""
    assert "pytest" in imported_modules(PACKAGE / "plugin" / "__init__.py")


def test_the_pytest11_entry_point_names_the_plugin_package():
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    assert 'wamrobust = "pytest_wamrobust.plugin"' in pyproject


# --- the direction of imports between layers -------------------------------------------
#: What each layer may import from this package (besides itself and the top-level package,
#: `pytest_wamrobust/__init__.py`, and `pytest_wamrobust.suites`, the manifests' data).
CORE = ("core.model", "core.cases", "core.running", "core.judging", "core.search")
MAY_IMPORT: dict[str, set[str]] = {
    "core.model": set(),
    "core.cases": {"core.model"},
    "core.running": {"core.model"},
    "core.judging": {"core.model"},
    "core.search": {"core.model", "core.cases", "core.running", "core.judging"},
    "sims": set(CORE),
    "policies": set(CORE),
    "records": set(CORE),
    "report": {*CORE, "records"},
    "distributed": {*CORE, "records"},
    "plugin": {*CORE, "sims", "policies", "records", "report", "distributed"},
    "cli": {*CORE, "sims", "policies", "records", "report", "distributed"},
    "__main__": {"cli"},
}
#: A string naming a module of this package, as importlib.import_module or an
#: entry point ("module:attr") takes it.
MODULE_STRING = re.compile(r"^pytest_wamrobust(\.\w+)+(:[\w.]+)?$")
DATA_PACKAGE = "suites"


def layer_of(module: str) -> str | None:
    """`core.model`, `plugin`, ...; None outside the package or for the top-level
    package itself (its `__version__`, `installed_version`)."""
    parts = module.split(".")
    if parts[0] != "pytest_wamrobust" or len(parts) < 2:
        return None
    if parts[1] == "core":
        return f"core.{parts[2]}" if len(parts) > 2 else None
    is_module = (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()
    return parts[1] if is_module or parts[1] == DATA_PACKAGE else None


def named_modules(path: Path) -> set[str]:
    """Modules of this package a file imports, by statement or by string (docstrings and
    entry point group names, which look like module names, excepted)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and MODULE_STRING.match(node.value)
              and node.value not in entry_points.ALL_GROUPS):
            found.add(node.value.split(":")[0])
    return found


def upward_imports(modules: set[str], layer: str) -> list[str]:
    """The modules a file of `layer` may not import."""
    allowed = MAY_IMPORT[layer] | {layer, DATA_PACKAGE}
    return sorted(module for module in modules
                  if (target := layer_of(module)) is not None and target not in allowed)


def layer_of_file(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return layer_of(".".join(("pytest_wamrobust", *parts)))


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_a_layer_imports_only_the_layers_below_it(layer):
    files = [path for path in PACKAGE.rglob("*.py") if layer_of_file(path) == layer]
    assert files, f"no files in layer {layer}"
    found = [f"{path.relative_to(PACKAGE)} -> {module}" for path in files
             for module in upward_imports(named_modules(path), layer)]
    assert found == []


def test_every_module_belongs_to_a_layer():
    top_level = {PACKAGE / "__init__.py", PACKAGE / "core" / "__init__.py"}
    unplaced = [str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                if path not in top_level and layer_of_file(path) not in MAY_IMPORT]
    assert unplaced == []


def test_the_direction_check_sees_statements_and_strings(tmp_path):
    """Guard against a checker that finds nothing: an upward import by statement, by
    importlib string and by entry-point string are all caught; a docstring and an entry
    point group's name are not imports."""
    probe = tmp_path / "probe.py"
    probe.write_text('"""pytest_wamrobust.plugin in a docstring is not an import."""\n'
                     "import importlib\n"
                     "from pytest_wamrobust.records import junit\n"
                     "importlib.import_module('pytest_wamrobust.plugin.run')\n"
                     "ADAPTER = 'pytest_wamrobust.policies.remote:connect_policy'\n"
                     "GROUP = 'pytest_wamrobust.policies'\n")
    assert upward_imports(named_modules(probe), "core.model") == [
        "pytest_wamrobust.plugin.run", "pytest_wamrobust.policies.remote",
        "pytest_wamrobust.records.junit"]
