"""robotwin_plus' progress score (what --wam-search targets, through `hypothesis.target()`):
it climbs to 1 as the oracle solves a task, and stays low and flat when nothing moves.
Physics only (SAPIEN's CPU PhysX, no rendering)."""

from __future__ import annotations

import pytest

from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.baselines import make_noop_policy
from pytest_wamrobust.sims.robotwin.oracle import make_oracle
from pytest_wamrobust.sims.robotwin.suite import make_suite
from pytest_wamrobust.sims.robotwin.tasks import TASKS


@pytest.fixture(scope="module")
def physics():
    return make_suite(options={"render": "0"})


@pytest.mark.parametrize("task", ["lift_pot", "place_can_on_plate", "press_buttons"])
def test_progress_rises_to_one_when_solved_and_not_when_idle(physics, task):
    spec = physics.episode_spec(CaseKey("robotwin_plus", task, "clean", 0, 0))
    for make, solves in ((make_oracle, True), (make_noop_policy, False)):
        env = physics.make_env(spec)
        trace: list[float] = []
        try:
            result = run_episode(env, make(PolicyContext(physics.env_spec)), spec,
                                 step_hook=lambda e, out=trace: out.append(e.progress()))
        finally:
            env.close()
        assert result.success is solves
        assert all(0.0 <= p <= 1.0 for p in trace)
        if solves:
            assert trace[-1] == 1.0 and max(trace[:-1]) < 1.0 and trace[-2] > trace[0] + 0.2
        else:
            assert max(trace) - min(trace) < 0.05 and max(trace) < 0.9


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_starts_far_from_its_goal(physics, task):
    """Each task's score reads its own world (objects, sites, buttons) and starts low."""
    env = physics.make_env(physics.episode_spec(CaseKey("robotwin_plus", task, "clean", 0, 0)))
    try:
        env.reset()
        assert 0.0 <= env.progress() < 0.6
    finally:
        env.close()
