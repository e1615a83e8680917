"""pytest-wamrobust: robustness gates for robot manipulation policies."""

from importlib.metadata import version

__version__ = version("pytest-wamrobust")  # one home: pyproject.toml
