"""Resolving --policy / --suite strings, and the baseline policies they name."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from pytest_wamrobust.core.model import entry_points, policy_args, registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, Observation

SPEC = EnvSpec("tabletop", (CameraSpec("agentview", 64, 64),), state_dim=8, action_dim=7,
               control_hz=20.0)
CTX = PolicyContext(SPEC, {"chunk_length": "4", "replan_steps": "2"})
OBS = Observation({"agentview": np.zeros((64, 64, 3), np.uint8)}, np.zeros(8), "lift")


def test_builtins_register_through_the_entry_points():
    assert {"scripted", "random", "noop"} <= set(entry_points.available(entry_points.POLICIES))
    assert "tabletop" in entry_points.available(entry_points.SUITES)


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


@pytest.fixture
def third_party_scheme(tmp_path, monkeypatch):
    """An installed distribution (a dist-info on sys.path, as pip leaves one) whose
    package registers the `probe:` scheme; returns the calls its resolver saw."""
    dist = tmp_path / "probe_scheme-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: probe-scheme\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[pytest_wamrobust.policy_schemes]\nprobe = probe_scheme:resolve\n")
    (tmp_path / "probe_scheme.py").write_text(
        "from pytest_wamrobust.policies.baselines import make_noop_policy\n"
        "SEEN = []\n"
        "def resolve(spec):\n"
        "    SEEN.append(spec)\n"
        "    if spec.endswith('!'):\n"
        "        raise RuntimeError('no such model')\n"
        "    return make_noop_policy\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "probe_scheme", raising=False)
    return tmp_path


def test_the_built_in_schemes_register_through_the_entry_points():
    assert {"ws", "wss", "lerobot"} <= set(entry_points.available(entry_points.POLICY_SCHEMES))


def test_a_ws_url_resolves_to_the_client_with_its_server_check_and_declared_args():
    factory = registry.policy_factory("ws://127.0.0.1:8000")
    names = [arg.name for arg in policy_args.declared(factory) or ()]
    assert "replan_steps" in names and "api_key" in names
    assert factory.preflight.args == ("ws://127.0.0.1:8000",)


def test_a_lerobot_path_is_checked_at_resolution_without_importing_lerobot(tmp_path):
    with pytest.raises(UsageError, match="is not a LeRobot checkpoint \\(no such folder\\)"):
        registry.policy_factory(f"lerobot:{tmp_path / 'missing'}")
    assert "lerobot" not in sys.modules


def test_a_third_party_scheme_is_found_by_its_entry_point(third_party_scheme):
    policy = registry.make_policy("probe:my-model", CTX)
    assert policy.metadata.name == "noop"
    assert sys.modules["probe_scheme"].SEEN == ["probe:my-model"]


def test_a_failing_scheme_is_one_line_naming_it(third_party_scheme):
    with pytest.raises(UsageError) as info:
        registry.policy_factory("probe:my-model!")
    assert str(info.value) == ("--policy 'probe:my-model!': the probe: scheme "
                               "(probe_scheme:resolve) failed: RuntimeError: no such model")


def test_an_unregistered_url_scheme_names_the_registered_ones():
    with pytest.raises(UsageError, match=r"registered schemes: lerobot:, ws:, wss:\)"):
        registry.policy_factory("tcp://gpu-box:8000")


def test_suite_by_name_and_module_callable():
    suite = registry.make_suite("tabletop")
    assert suite.name == "tabletop" and suite.env_spec.action_dim == 7
    same = registry.make_suite("pytest_wamrobust.sims.tabletop.suite:make_suite")
    assert [t.name for t in same.tasks()] == [t.name for t in suite.tasks()]
