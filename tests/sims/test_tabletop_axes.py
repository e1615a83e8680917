"""Each axis on the tabletop changes what it should and nothing else; identity == clean."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_wamrobust.core.cases.axes import get_axis
from pytest_wamrobust.core.cases.seeding import rng_for
from pytest_wamrobust.core.model.types import AXES, CaseKey
from pytest_wamrobust.sims.tabletop.scene import SceneSpec
from pytest_wamrobust.sims.tabletop.scene_axes import edit_scene
from pytest_wamrobust.sims.tabletop.suite import make_suite
from pytest_wamrobust.sims.tabletop.tasks import TASKS


@pytest.fixture(scope="module")
def suite():
    return make_suite()


def _observe(suite, task: str, axis: str, params=None, level: int = 3, seed: int = 0):
    """Reset observation and a few steps later, for a case with optional forced params."""
    spec = suite.episode_spec(CaseKey("tabletop", task, axis, level, seed))
    if params is not None:
        spec = replace(spec, params=params)
    env = suite.make_env(spec)
    first = env.reset()
    for _ in range(3):
        env.step(np.array([0.2, -0.1, -0.1, 0, 0, 0.1, -1.0]))
    later = env.observe()
    env.close()
    return first, later


def _same(a, b) -> bool:
    return (a.images.keys() == b.images.keys()
            and all(np.array_equal(a.images[k], b.images[k]) for k in a.images)
            and np.array_equal(a.state, b.state) and a.instruction == b.instruction
            and all(np.array_equal(np.asarray(a.privileged[k]), np.asarray(b.privileged[k]))
                    for k in a.privileged))


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("task", ["cube_on_plate", "close_drawer"])
def test_identity_parameters_reproduce_the_clean_scene_bit_for_bit(suite, axis, task):
    ranges = suite.manifest.axis_ranges[axis]
    clean = _observe(suite, task, "clean", level=0)
    identity = _observe(suite, task, axis, params=get_axis(axis).identity(ranges))
    assert _same(clean[0], identity[0]) and _same(clean[1], identity[1])


@settings(max_examples=30, deadline=None)
@given(task=st.sampled_from(sorted(TASKS)), seed=st.integers(0, 2**32 - 1),
       axis=st.sampled_from(("camera", "light", "background", "layout")))
def test_identity_scene_edit_returns_an_equal_scene(task, seed, axis):
    t = TASKS[task]
    clean = SceneSpec(props=t.layout(rng_for(seed)))
    identity = get_axis(axis).identity(make_suite().manifest.axis_ranges[axis])
    assert edit_scene(clean, axis, identity, t.target) == clean


def _diff(a, b, camera: str) -> float:
    return float(np.abs(a.images[camera].astype(int) - b.images[camera]).mean())


@pytest.mark.parametrize("axis, third_person, wrist", [
    ("camera", True, False),
    ("noise", True, False),
    ("light", True, True),
    ("background", True, True),
])
def test_image_axes_touch_the_right_cameras_and_never_the_state(suite, axis, third_person, wrist):
    clean, _ = _observe(suite, "cube_on_plate", "clean", level=0)
    perturbed, _ = _observe(suite, "cube_on_plate", axis, level=5)
    assert (_diff(clean, perturbed, "agentview") > 2.0) is third_person
    assert (_diff(clean, perturbed, "wrist") > 2.0) is wrist
    assert np.array_equal(clean.state, perturbed.state)
    assert clean.instruction == perturbed.instruction


def test_background_table_height_carries_the_objects(suite):
    ranges = suite.manifest.axis_ranges["background"]
    params = get_axis("background").identity(ranges)
    params["table_height_m"] = 0.03
    clean, _ = _observe(suite, "cube_on_plate", "clean", level=0)
    raised, _ = _observe(suite, "cube_on_plate", "background", params=params)
    lift = raised.privileged["object_pos"] - clean.privileged["object_pos"]
    assert lift == pytest.approx([0.0, 0.0, 0.03], abs=1e-6)
    assert np.array_equal(clean.state, raised.state)  # the robot's stand did not move


def test_language_changes_only_the_instruction(suite):
    clean, _ = _observe(suite, "open_drawer", "clean", level=0)
    reworded, _ = _observe(suite, "open_drawer", "language", level=5)
    task = suite.manifest.task("open_drawer")
    assert reworded.instruction != clean.instruction
    assert any(reworded.instruction in bank for bank in task.rewrites.values())
    assert all(np.array_equal(clean.images[k], reworded.images[k]) for k in clean.images)


def test_robot_init_moves_the_arm_and_nothing_else(suite):
    clean, _ = _observe(suite, "stack_cubes", "clean", level=0)
    moved, _ = _observe(suite, "stack_cubes", "robot_init", level=5)
    assert np.linalg.norm(moved.state[:3] - clean.state[:3]) > 0.03
    for key in ("object_pos", "goal_pos"):
        assert np.array_equal(clean.privileged[key], moved.privileged[key])


def test_robot_init_gripper_rule(suite):
    params = {"joint_offsets": [0.0] * 7, "gripper": "closed"}
    obs, later = _observe(suite, "lift_cube", "robot_init", params=params)
    assert obs.state[6] == pytest.approx(0.0)


def test_layout_jitters_the_target_or_adds_clear_distractors(suite):
    clean, _ = _observe(suite, "cube_in_bowl", "clean", level=0)
    jitter = {"n_distractors": 0, "distractor_seed": 0,
              "target": {"jitter_m": 0.04, "jitter_angle_rad": 0.5, "yaw_deg": 0.0}}
    moved, _ = _observe(suite, "cube_in_bowl", "layout", params=jitter)
    shift = moved.privileged["goal_pos"] - clean.privileged["goal_pos"]
    assert np.hypot(shift[0], shift[1]) == pytest.approx(0.04, abs=1e-6)
    assert np.array_equal(clean.privileged["object_pos"], moved.privileged["object_pos"])

    spec = suite.episode_spec(CaseKey("tabletop", "cube_in_bowl", "layout", 5, 0))
    still = {"jitter_m": 0.0, "jitter_angle_rad": 0.0, "yaw_deg": 0.0}
    spec = replace(spec, params={"n_distractors": 5, "distractor_seed": 7, "target": still})
    env = suite.make_env(spec)
    env.reset()
    props = env.scene.props
    distractors = [p for p in props if p.name.startswith("distractor_")]
    assert len(distractors) == 5
    for d in distractors:
        for other in props:
            if other is not d:
                assert np.hypot(d.x - other.x, d.y - other.y) > d.radius + other.radius
    for _ in range(5):
        env.step(np.zeros(7))
    assert not env.success()
    env.close()
