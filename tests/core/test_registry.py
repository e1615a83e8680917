"""Resolving --policy / --suite strings, and the baseline policies they name."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, Observation

SPEC = EnvSpec("tabletop", (CameraSpec("agentview", 64, 64),), state_dim=8, action_dim=7,
               control_hz=20.0)
CTX = PolicyContext(SPEC, {"chunk_length": "4", "replan_steps": "2"})
OBS = Observation({"agentview": np.zeros((64, 64, 3), np.uint8)}, np.zeros(8), "lift")


def test_builtins_register_through_the_entry_points():
    assert {"scripted", "random", "noop"} <= set(registry.available(registry.POLICY_GROUP))
    assert "tabletop" in registry.available(registry.SUITE_GROUP)


def test_random_is_uniform_and_reproducible_from_the_reset_seed():
    policy = registry.make_policy("random", CTX)
    assert (policy.metadata.chunk_length, policy.metadata.replan_steps) == (4, 2)
    policy.reset("lift", 7)
    first = [policy.infer(OBS) for _ in range(3)]
    policy.reset("lift", 7)
    again = [policy.infer(OBS) for _ in range(3)]
    policy.reset("lift", 8)
    other = policy.infer(OBS)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other)
    assert first[0].shape == (4, 7) and np.all(np.abs(np.concatenate(first)) <= 1.0)


def test_noop_holds_still_with_the_gripper_open():
    chunk = registry.make_policy("noop", CTX).infer(OBS)
    assert chunk.shape == (4, 7)
    assert np.all(chunk[:, :6] == 0) and np.all(chunk[:, 6] == -1.0)


def test_module_callable_is_a_factory_taking_the_context():
    policy = registry.make_policy("pytest_wamrobust.policies.baselines:make_noop_policy", CTX)
    assert policy.metadata.name == "noop"


def test_a_factory_that_raises_is_one_line_naming_policy_and_cause():
    with pytest.raises(UsageError) as info:
        registry.make_policy("faulty_policies:broken_factory", CTX)
    assert str(info.value) == ("policy 'faulty_policies:broken_factory' could not be created: "
                               "OSError: checkpoint /models/pi05.safetensors not found")


def test_an_object_that_is_not_a_policy_is_rejected():
    with pytest.raises(UsageError, match="returned object, which lacks metadata, reset, infer"):
        registry.make_policy("faulty_policies:not_a_policy", CTX)


def test_bad_option_values_reach_the_user_as_one_line():
    with pytest.raises(UsageError, match="--policy-arg chunk_length=many must be an integer >= 1"):
        registry.make_policy("random", PolicyContext(SPEC, {"chunk_length": "many"}))


@pytest.mark.parametrize("spec, adapter", [("ws://127.0.0.1:8000", "ws"),
                                           ("wss://host:443", "ws"),
                                           ("lerobot:/ckpt/pi0", "lerobot")])
def test_url_specs_dispatch_to_their_adapter(monkeypatch, spec, adapter):
    seen = []
    monkeypatch.setitem(registry._ADAPTERS, adapter,
                        ("tests_adapter_probe", "connect"))
    monkeypatch.setitem(registry._ADAPTERS, "lerobot-checkpoint",
                        ("tests_adapter_probe", "check"))
    probe = types.ModuleType("tests_adapter_probe")
    probe.connect = lambda target, ctx: seen.append((target, ctx)) or "policy"
    probe.check = lambda target: seen.append(target)
    monkeypatch.setitem(sys.modules, "tests_adapter_probe", probe)
    assert registry.policy_factory(spec)(CTX) == "policy"
    expected = [(spec, CTX)] if adapter == "ws" else ["/ckpt/pi0", ("/ckpt/pi0", CTX)]
    assert seen == expected


def test_a_missing_adapter_module_is_one_line(monkeypatch):
    monkeypatch.setitem(registry._ADAPTERS, "ws", ("no_such_openpi_client", "connect_policy"))
    with pytest.raises(UsageError, match="--policy 'ws://h:1' needs no_such_openpi_client"):
        registry.policy_factory("ws://h:1")


def test_suite_by_name_and_module_callable():
    suite = registry.make_suite("tabletop")
    assert suite.name == "tabletop" and suite.env_spec.action_dim == 7
    same = registry.make_suite("pytest_wamrobust.sims.tabletop.suite:make_suite")
    assert [t.name for t in same.tasks()] == [t.name for t in suite.tasks()]
