"""The tabletop's progress score (what --wam-search targets): it climbs to 1 as the
oracle solves each task, and stays where it started when nothing moves."""

from __future__ import annotations

import pytest

from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.baselines import make_noop_policy
from pytest_wamrobust.policies.scripted import make_policy
from pytest_wamrobust.sims.tabletop.suite import make_suite
from pytest_wamrobust.sims.tabletop.tasks import TASKS


@pytest.mark.parametrize("task", ["lift_cube", "cube_on_plate", "close_drawer"])
def test_progress_rises_to_one_when_solved_and_not_when_idle(task):
    suite = make_suite()
    spec = suite.episode_spec(CaseKey("tabletop", task, "clean", 0, 0))
    for make, solves in ((make_policy, True), (make_noop_policy, False)):
        env = suite.make_env(spec)
        trace: list[float] = []
        try:
            result = run_episode(env, make(PolicyContext(suite.env_spec)), spec,
                                 step_hook=lambda e, trace=trace: trace.append(e.progress()))
        finally:
            env.close()
        assert result.success is solves
        assert all(0.0 <= p <= 1.0 for p in trace)
        if solves:
            assert trace[-1] == 1.0 and max(trace[:-1]) < 1.0 and trace[-2] > trace[0]
        else:
            assert max(trace) - min(trace) < 0.05 and max(trace) < 0.9


def test_every_task_has_a_progress():
    assert {t.plan for t in TASKS.values()} <= {"lift", "place", "push", "open_drawer",
                                               "close_drawer"}
