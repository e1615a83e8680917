"""Real rollouts: one variant per axis that runs offline, driven by built-in policies."""

from __future__ import annotations

from dataclasses import replace
from importlib.metadata import entry_points

import numpy as np
import pytest

from pytest_wamrobust.core.episode import run_episode
from pytest_wamrobust.core.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.results import ERROR

RUNNABLE_OFFLINE = ["clean", "camera", "robot_init", "language", "noise", "layout"]
STEP_LIMIT = 15  # enough for 3 chunks; the protocol's limits are 220-520


def _policy(name: str, env_spec):
    (factory,) = [ep for ep in entry_points(group="pytest_wamrobust.policies") if ep.name == name]
    return factory.load()(PolicyContext(env_spec=env_spec))


@pytest.mark.slow
@pytest.mark.parametrize("axis", RUNNABLE_OFFLINE)
def test_one_variant_per_runnable_axis_rolls_out(suite, axis):
    key = next(k for k in suite.cases(CaseSelection(axes=[axis], tasks=["libero_object"]))
               if not suite.variant(k).needs_extra_assets)
    spec = suite.episode_spec(key)
    spec = replace(spec, task=replace(spec.task, max_steps=STEP_LIMIT))
    env = suite.make_env(spec)
    policy = _policy("random", suite.env_spec)
    frames: list[np.ndarray] = []
    try:
        result = run_episode(env, policy, spec,
                             step_hook=lambda e: frames.append(e.observe().state))
    finally:
        env.close()
    assert result.status != ERROR, result.error
    assert result.steps == STEP_LIMIT  # a random policy does not solve a LIBERO task in 15 steps
    assert len(result.chunk_latencies_ms) >= 1
    assert result.instruction == suite.catalog.instruction(suite.variant(key))
    assert result.params["variant"] == suite.variant(key).name
    # the arm really moved under the policy's actions
    assert np.linalg.norm(frames[-1][:3] - frames[0][:3]) > 1e-3


@pytest.mark.slow
def test_noop_policy_holds_the_arm_still(suite):
    key = next(iter(suite.cases(CaseSelection(axes=["clean"], tasks=["libero_goal"]))))
    spec = suite.episode_spec(key)
    spec = replace(spec, task=replace(spec.task, max_steps=10))
    env = suite.make_env(spec)
    try:
        start = env.reset().state
        result = run_episode(env, _policy("noop", suite.env_spec), spec)
        end = env.observe().state
    finally:
        env.close()
    assert result.status != ERROR, result.error
    assert np.linalg.norm(end[:3] - start[:3]) < 0.02
