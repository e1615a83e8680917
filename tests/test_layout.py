"""The import rule the package's layout states: only `pytest_wamrobust.plugin` imports
pytest, so the core, the simulators, the policies, the records and the `wamrobust`
command work (and are tested) without it, and a newcomer finds the pytest layer in one
place."""

from __future__ import annotations

import ast
from pathlib import Path

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
