"""pytest-wamrobust: robustness gates for robot manipulation policies."""

from importlib.metadata import PackageNotFoundError, version

__version__ = version("pytest-wamrobust")  # one home: pyproject.toml


def installed_version(package: str) -> str:
    """`package`'s version, for the run header and the HTML report's provenance; a
    missing optional package is a word there, not an error."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
