"""The tabletop env as a policy sees it: cameras, state, determinism, options, errors."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import Env, Suite
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.sims.tabletop.suite import make_suite

TASKS = ("lift_cube", "cube_on_plate", "stack_cubes", "cube_in_bowl", "can_in_basket",
         "open_drawer", "close_drawer", "push_to_region")


@pytest.fixture(scope="module")
def suite():
    return make_suite()


def _env(suite, task="cube_on_plate", axis="clean", level=0, seed=0):
    spec = suite.episode_spec(CaseKey("tabletop", task, axis, level, seed))
    return suite.make_env(spec), spec


def test_suite_has_the_libero_style_interface(suite):
    assert isinstance(suite, Suite)
    assert [t.name for t in suite.tasks()] == list(TASKS)
    spec = suite.env_spec
    assert spec.camera_names == ("agentview", "wrist")
    assert spec.third_person_camera == "agentview"
    assert (spec.state_dim, spec.action_dim, spec.control_hz) == (8, 7, 20.0)


def test_observation_shapes_state_and_prompt(suite):
    env, spec = _env(suite)
    assert isinstance(env, Env)
    obs = env.reset()
    for name in ("agentview", "wrist"):
        assert obs.images[name].shape == (128, 128, 3) and obs.images[name].dtype == np.uint8
        assert obs.images[name].std() > 10  # a real render, not a blank frame
    assert obs.state.shape == (8,)
    assert obs.state[6] == pytest.approx(0.04) and obs.state[7] == pytest.approx(-0.04)  # open
    assert obs.instruction == "put the red cube on the plate"
    env.close()


def test_actions_move_the_end_effector_in_metres(suite):
    env, _ = _env(suite)
    start = env.reset().state[:3]
    for _ in range(10):
        env.step(np.array([0.4, 0, 0, 0, 0, 0, -1.0]))
    moved = env.observe().state[:3] - start
    assert 0.08 < moved[0] < 0.2  # 10 steps x 2 cm commanded, servo lag included
    assert abs(moved[1]) < 0.01 and abs(moved[2]) < 0.02
    for _ in range(5):
        env.step(np.array([0, 0, 0, 0, 0, 0, 1.0]))
    assert env.observe().state[6] < 0.005  # gripper closed
    env.close()


def _rollout_digest(suite, task: str, seed: int) -> str:
    env, _ = _env(suite, task, seed=seed)
    digest = hashlib.sha256()
    obs = env.reset()
    rng = np.random.default_rng(0)
    for _ in range(15):
        env.step(rng.uniform(-1, 1, 7))
    obs = env.observe()
    for image in obs.images.values():
        digest.update(image.tobytes())
    digest.update(obs.state.tobytes())
    digest.update(str(env.success()).encode())
    env.close()
    return digest.hexdigest()


def test_same_spec_gives_identical_frames_and_state(suite):
    assert _rollout_digest(suite, "stack_cubes", 1) == _rollout_digest(suite, "stack_cubes", 1)


def test_same_spec_is_identical_in_another_process(suite):
    code = ("from tests.sims.test_tabletop_env import _rollout_digest;"
            "from pytest_wamrobust.sims.tabletop.suite import make_suite;"
            "print(_rollout_digest(make_suite(), 'open_drawer', 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip().splitlines()[-1] == _rollout_digest(suite, "open_drawer", 2)


def test_episode_seed_randomises_object_placement(suite):
    positions = set()
    for seed in range(4):
        env, _ = _env(suite, "lift_cube", seed=seed)
        positions.add(tuple(np.round(env.reset().privileged["object_pos"], 4)))
        env.close()
    assert len(positions) == 4


@pytest.mark.parametrize("task", TASKS)
def test_goal_does_not_hold_at_reset(suite, task):
    for seed in range(3):
        env, _ = _env(suite, task, seed=seed)
        env.reset()
        assert not env.success()
        for _ in range(3):  # nor after the scene settles
            env.step(np.array([0, 0, 0, 0, 0, 0, -1.0]))
        assert not env.success()
        env.close()


def _manifest(**options) -> SuiteManifest:
    packaged = SuiteManifest.packaged("tabletop")
    return replace(packaged, options=options, source="test.toml")


@pytest.mark.parametrize("size", [64, 256])
def test_image_size_setting_changes_every_camera(size):
    suite = make_suite(_manifest(image_size=size))
    assert all(c.height == c.width == size for c in suite.env_spec.cameras)
    env, _ = _env(suite)
    assert {im.shape for im in env.reset().images.values()} == {(size, size, 3)}
    env.close()


@pytest.mark.parametrize("options, match", [
    ({"image_size": "big"}, "image_size must be an integer from 32 to 1024"),
    ({"image_size": 8}, "image_size must be an integer"),
    ({"imagesize": 128}, "unknown keys"),
])
def test_bad_options_are_one_clear_line(options, match):
    with pytest.raises(UsageError, match=match) as info:
        make_suite(_manifest(**options))
    assert "\n" not in str(info.value)


def test_a_task_the_simulator_lacks_is_named():
    packaged = SuiteManifest.packaged("tabletop")
    task = replace(packaged.tasks[0], name="fold_towel")
    with pytest.raises(UsageError, match="no task 'fold_towel'.*lift_cube"):
        make_suite(replace(packaged, tasks=(task,)))


def test_no_offscreen_gl_is_one_line_naming_the_packages():
    code = ("from pytest_wamrobust.sims.tabletop.suite import make_suite;"
            "from pytest_wamrobust.core.model.types import CaseKey;"
            "s = make_suite();"
            "s.make_env(s.episode_spec(CaseKey('tabletop', 'lift_cube', 'clean', 0, 0))).reset()")
    env = {**os.environ, "MUJOCO_GL": "no-such-backend"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode != 0
    error = "pytest_wamrobust.core.model.errors.MissingAssetError"
    assert last.startswith(f"{error}: no offscreen OpenGL")
    assert "libegl1" in last and "libosmesa6" in last


def test_building_the_suite_imports_no_simulator():
    code = ("import sys; from pytest_wamrobust.sims.tabletop.suite import make_suite; "
            "import pytest_wamrobust.policies.scripted; make_suite(); "
            "print('mujoco' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
