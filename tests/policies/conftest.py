"""Fixtures of the policy tests: the suite whose observations they send, and no API key
leaking in from the developer's environment (a key set for one's own `wamrobust serve`
would otherwise reach the servers and clients under test)."""

import pytest

from pytest_wamrobust.core.model import registry


@pytest.fixture(scope="module")
def tabletop():
    return registry.make_suite("tabletop")


@pytest.fixture(autouse=True)
def _no_key_from_the_environment(monkeypatch):
    monkeypatch.delenv("WAMROBUST_POLICY_API_KEY", raising=False)
