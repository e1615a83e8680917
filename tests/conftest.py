"""Shared test configuration: pytester runs the plugin end to end in a fresh pytest."""

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _child_pytest_is_not_an_xdist_worker(monkeypatch):
    """Under `-n 2` these variables describe this worker; a pytest a test starts as a
    subprocess would inherit them, and pytest-benchmark would then switch itself off
    as if that child were an xdist worker too."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
