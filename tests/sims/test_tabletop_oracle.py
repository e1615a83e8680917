"""The scripted oracle solves the tabletop through the real episode runner."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.results import SUCCESS
from pytest_wamrobust.core.model.types import AXES, CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.scripted import make_policy
from pytest_wamrobust.sims.tabletop.suite import make_suite
from pytest_wamrobust.sims.tabletop.tasks import TASKS


@pytest.fixture(scope="module")
def suite():
    return make_suite()


def _run_with(suite, ctx: PolicyContext, key: CaseKey):
    spec = suite.episode_spec(key)
    env = suite.make_env(spec)
    try:
        return run_episode(env, make_policy(ctx), spec)
    finally:
        env.close()


def _run(suite, key: CaseKey):
    return _run_with(suite, PolicyContext(suite.env_spec), key)


def test_scripted_dispatches_to_the_tabletop_oracle(suite):
    policy = make_policy(PolicyContext(suite.env_spec))
    meta = policy.metadata
    assert (meta.family, meta.privileged) == ("oracle", True)
    assert (meta.chunk_length, meta.replan_steps) == (10, 5)


def test_scripted_without_an_oracle_is_one_clear_line(suite):
    ctx = PolicyContext(replace(suite.env_spec, suite="my_suite"))
    with pytest.raises(UsageError, match="no oracle for suite 'my_suite'.*wamrobust.oracles"):
        make_policy(ctx)


def test_oracle_chunking_options(suite):
    ctx = PolicyContext(suite.env_spec, {"chunk_length": "8", "replan_steps": "8"})
    meta = make_policy(ctx).metadata
    assert (meta.chunk_length, meta.replan_steps) == (8, 8)
    result = _run_with(suite, ctx, CaseKey("tabletop", "lift_cube", "clean", 0, 1))
    assert result.status == SUCCESS
    with pytest.raises(UsageError, match="replan_steps=9 must be in 1..chunk_length=4"):
        make_policy(PolicyContext(suite.env_spec, {"chunk_length": "4", "replan_steps": "9"}))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_oracle_solves_every_clean_task(suite, task):
    result = _run(suite, CaseKey("tabletop", task, "clean", 0, 0))
    assert result.status == SUCCESS, result.error
    assert result.steps < suite.manifest.task(task).max_steps


def test_the_oracle_never_sees_perturbation_parameters(suite):
    spec = suite.episode_spec(CaseKey("tabletop", "cube_on_plate", "light", 5, 0))
    env = suite.make_env(spec)
    privileged = env.reset().privileged
    env.close()
    assert not set(privileged) & {"params", *spec.params}


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_oracle_clean_success_at_least_95_percent(suite, task):
    wins = sum(_run(suite, CaseKey("tabletop", task, "clean", 0, j)).status == SUCCESS
               for j in range(20))
    assert wins >= 19


@pytest.mark.slow
@pytest.mark.parametrize("axis", AXES)
def test_oracle_solves_most_perturbed_cases(suite, axis):
    results = [_run(suite, CaseKey("tabletop", task, axis, level, 0))
               for task in sorted(TASKS) for level in (1, 3, 5)]
    assert sum(r.status == SUCCESS for r in results) >= 0.75 * len(results)


def test_the_grasp_is_real_contact_and_friction(suite):
    """Lifted by the oracle, the cube falls back to the table when the gripper opens."""
    spec = suite.episode_spec(CaseKey("tabletop", "lift_cube", "clean", 0, 3))
    env = suite.make_env(spec)
    result = run_episode(env, make_policy(PolicyContext(suite.env_spec)), spec)
    assert result.status == SUCCESS
    held = env.observe().privileged
    assert held["object_pos"][2] - held["table_z"] > 0.1
    for _ in range(15):
        env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
    dropped = env.observe().privileged
    env.close()
    assert dropped["object_pos"][2] - dropped["table_z"] == pytest.approx(0.02, abs=0.005)
    assert not env.success()
