"""The privileged `scripted` oracle on the real LIBERO-Plus benchmark: positive cases.

Noop and random never solve a LIBERO task, so on their own they cannot tell a working
success path from a broken one (a wrong predicate, a mis-set init state, a flipped
action convention would all still "pass"). The oracle solves clean tasks through the
harness's own episode runner, `success` turns true only once the object is really
placed, a known-bad action convention makes it fail, and the visual axes cannot change
what it does because it reads simulator state only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pytest_wamrobust.core.model.errors import EpisodeError, UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.model.results import SUCCESS
from pytest_wamrobust.core.model.types import Observation
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.scripted import make_policy

SPATIAL = "libero_spatial__pick_up_the_black_bowl_next_to_the_plate_and_place_it_on_the_plate"
OBJECT = "libero_object__pick_up_the_butter_and_place_it_in_the_basket"


def _oracle(env_spec):
    """Built the way `--policy=scripted --suite=libero_plus` builds it."""
    return make_policy(PolicyContext(env_spec=env_spec))


def _clean_spec(suite, task, max_steps=None):
    key = next(iter(suite.cases(CaseSelection(settings=["clean"], tasks=[task]))))
    spec = suite.episode_spec(key)
    if max_steps is not None:
        spec = replace(spec, task=replace(spec.task, max_steps=max_steps))
    return spec


class _Recorder:
    """Step hook: the world state and LIBERO's success after every executed action."""

    def __init__(self) -> None:
        self.worlds: list[dict] = []
        self.success: list[bool] = []

    def __call__(self, env) -> None:
        self.worlds.append(env.world_state())
        self.success.append(env.success())


def _placed(world: dict, obj: str, target: str) -> bool:
    """Our own geometric reading of `On`/`In`, independent of LIBERO's predicates: the
    object's centre over the target and its bottom resting near the target's support."""
    o = world["objects"][obj]
    if target in world["sites"]:
        site = world["sites"][target]
        half = np.abs(site["xmat"] @ site["size"])
        inside_xy = np.all(np.abs(o["pos"][:2] - site["pos"][:2]) < half[:2])
        return bool(inside_xy and o["pos"][2] < site["pos"][2] + half[2])
    t = world["objects"][target]
    near_xy = np.linalg.norm(o["pos"][:2] - t["pos"][:2]) < 0.03
    resting = abs(o["aabb"][0][2] - t["aabb"][1][2]) < 0.02
    return bool(near_xy and resting)


@pytest.mark.parametrize("task", [SPATIAL, OBJECT], ids=["spatial", "object"])
def test_oracle_solves_a_clean_task_and_success_turns_true_when_placed(suite, task):
    spec = _clean_spec(suite, task)
    env = suite.make_env(spec)
    record = _Recorder()
    try:
        result = run_episode(env, _oracle(suite.env_spec), spec, step_hook=record)
        goal = env.world_state()["goal"]
        for _ in range(10):  # let go and hold still: it stays solved
            env.step(np.array([0.0] * 6 + [-1.0]))
        still_solved = env.success()
    finally:
        env.close()
    assert result.status == SUCCESS, (result.status, result.steps, result.error)
    assert result.steps < spec.max_steps
    (_, obj, target), = goal
    first, at = record.worlds[0], record.worlds[-1]
    # false from the start (a mis-set init state would show here) until the step the
    # object is placed, true on that step
    assert record.success[:-1] == [False] * (len(record.success) - 1)
    assert not _placed(first, obj, target)
    assert _placed(at, obj, target)
    # it was carried there: lifted clear of where it started
    start_z = first["objects"][obj]["pos"][2]
    assert max(w["objects"][obj]["pos"][2] for w in record.worlds) > start_z + 0.03
    assert still_solved


class _FlippedGripper:
    """The oracle with the gripper sign flipped (+1 open / -1 close, a classic adapter
    bug): it closes on the way down and opens where it should grasp."""

    def __init__(self, oracle) -> None:
        self.oracle = oracle
        self.metadata = oracle.metadata

    def reset(self, task: str, seed: int) -> None:
        self.oracle.reset(task, seed)

    def infer(self, observation: Observation) -> np.ndarray:
        chunk = np.array(self.oracle.infer(observation))
        chunk[:, 6] *= -1
        return chunk


def test_a_flipped_gripper_convention_fails(suite):
    """The basket task: a closed hand can drag a bowl onto a plate, but it cannot lift
    the butter into the basket."""
    spec = _clean_spec(suite, OBJECT)
    env = suite.make_env(spec)
    try:
        result = run_episode(env, _FlippedGripper(_oracle(suite.env_spec)), spec)
    finally:
        env.close()
    assert result.status != SUCCESS
    assert result.steps == spec.max_steps


def _actions(suite, key, steps: int) -> np.ndarray:
    spec = suite.episode_spec(key)
    spec = replace(spec, task=replace(spec.task, max_steps=steps))
    env = suite.make_env(spec)
    oracle = _oracle(suite.env_spec)
    chunks = []

    class Spy:
        metadata = oracle.metadata

        def reset(self, task, seed):
            oracle.reset(task, seed)

        def infer(self, observation):
            chunk = oracle.infer(observation)
            chunks.append(np.array(chunk))
            return chunk

    try:
        run_episode(env, Spy(), spec)
    finally:
        env.close()
    return np.concatenate(chunks)


def test_visual_perturbations_do_not_change_its_actions(suite):
    """State only by construction: a camera and a noise variant of the task (same init
    state) get exactly the clean case's actions."""
    clean = _clean_spec(suite, OBJECT).key
    camera = next(k for k in suite.cases(CaseSelection(settings=["camera"], tasks=[OBJECT]))
                  if k.level == 5)
    noise = next(k for k in suite.cases(CaseSelection(settings=["noise"], tasks=[OBJECT]))
                 if k.level == 5)
    reference = _actions(suite, clean, 40)
    assert np.abs(reference[:, :3]).max() > 0.1  # it does move
    for key in (camera, noise):
        assert np.array_equal(_actions(suite, key, 40), reference), key.case_id


@pytest.mark.slow
@pytest.mark.parametrize("sub_suite", ["libero_spatial", "libero_object"])
def test_clean_success_per_sub_suite(suite, sub_suite):
    """Three tasks per sub-suite (first, middle, last), the protocol's init state."""
    tasks = [t.name for t in suite.tasks() if t.group == sub_suite]
    solved = []
    for task in (tasks[0], tasks[len(tasks) // 2], tasks[-1]):
        spec = _clean_spec(suite, task)
        env = suite.make_env(spec)
        try:
            result = run_episode(env, _oracle(suite.env_spec), spec)
        finally:
            env.close()
        solved.append(result.status == SUCCESS)
    assert all(solved), solved


# --- without LIBERO: the oracle's contract ---------------------------------------------

def _spec():
    from pytest_wamrobust.sims.libero_plus.env import env_spec

    return env_spec()


def test_scripted_picks_the_libero_plus_oracle():
    from pytest_wamrobust.sims.libero_plus.oracle import LiberoPlusOracle

    oracle = _oracle(_spec())
    assert isinstance(oracle, LiberoPlusOracle)
    assert oracle.metadata.privileged and oracle.metadata.family == "oracle"


def test_it_refuses_an_env_without_privileged_state():
    oracle = _oracle(_spec())
    oracle.reset("t", 0)
    with pytest.raises(EpisodeError, match="privileged"):
        oracle.infer(Observation(images={}, state=np.zeros(8), instruction="x"))


def test_chunking_options_are_checked():
    from pytest_wamrobust.sims.libero_plus.oracle import make_oracle

    oracle = make_oracle(PolicyContext(_spec(), {"chunk_length": "8", "replan_steps": "4"}))
    assert (oracle.metadata.chunk_length, oracle.metadata.replan_steps) == (8, 4)
    with pytest.raises(UsageError, match="replan_steps"):
        make_oracle(PolicyContext(_spec(), {"chunk_length": "4", "replan_steps": "5"}))
