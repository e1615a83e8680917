"""pytest-wamrobust: robustness gates for robot manipulation policies."""

import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

__version__ = version("pytest-wamrobust")  # one home: pyproject.toml

#: The packages behind a run's outcomes, whose versions its JUnit file records
#: (`wam.run.versions`) for the HTML report: the run header's, and what they run on.
RUN_PACKAGES = ("pytest-wamrobust", "pytest", "numpy", "torch", "mujoco", "sapien",
                "hypothesis")


def installed_version(package: str) -> str:
    """`package`'s version, for the run header and the HTML report's provenance; a
    missing optional package is a word there, not an error."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def versions_text(packages: Sequence[str]) -> str:
    """`pytest-wamrobust 0.1.0, numpy 2.2.6, Python 3.11.7`: this environment's versions."""
    return ", ".join([*(f"{name} {installed_version(name)}" for name in packages),
                      f"Python {platform.python_version()}"])
