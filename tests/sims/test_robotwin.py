"""The robotwin_plus suite: study ranges, kinematics, the oracle, determinism, rendering.

Physics-only cases run in-process (SAPIEN's CPU PhysX); the rendering cases need a
Vulkan device (scripts/setup_vulkan.sh on a CPU machine) and skip with its one-line
reason when there is none.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from pytest_wamrobust import cli
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model.errors import MissingAssetError, UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import AXES, CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.sims.robotwin.arm import ArmKinematics, EefTarget
from pytest_wamrobust.sims.robotwin.oracle import make_oracle
from pytest_wamrobust.sims.robotwin.suite import make_suite
from pytest_wamrobust.sims.robotwin.tasks import TASKS
from pytest_wamrobust.sims.robotwin.vulkan import private_icd

#: Resolved before pytester swaps HOME for a temporary one.
LAVAPIPE_DIR = private_icd().parent


def _suite(render: bool, **options: object):
    """The packaged manifest with `[suite.options]` changed, rendering chosen as a user does:
    `--suite-arg render=0|1`."""
    manifest = SuiteManifest.packaged("robotwin_plus")
    merged = {**manifest.options, **options}
    return make_suite(dataclasses.replace(manifest, options=merged),
                      {"render": str(int(render))})


@pytest.fixture(scope="module")
def physics():
    return _suite(render=False)


def _spec(suite, task: str, axis: str = "clean", level: int = 0, seed: int = 0):
    level = 0 if axis == "clean" else level
    return suite.episode_spec(CaseKey("robotwin_plus", task, axis, level, seed))


def _final_world(suite, spec, steps: int = 60):
    env = suite.make_env(spec)
    policy = make_oracle(PolicyContext(suite.env_spec))
    observation = env.reset()
    policy.reset(spec.task.name, spec.episode_seed)
    for _ in range(steps // policy.metadata.replan_steps):
        for action in policy.infer(observation):
            env.step(action)
        observation = env.observe()
    return observation


# --- the manifest carries the study's RoboTwin 2.0-Plus ranges ----------------------


def test_level5_draws_stay_in_the_study_ranges(physics):
    for seed in range(4):
        camera = _spec(physics, "lift_pot", "camera", 5, seed).params
        assert 0.85 <= camera["distance_scale"] <= 0.88
        assert camera["orbit_deg"] == 0.0 and camera["elevation_deg"] == 0.0
        assert all(4.0 <= abs(camera[k]) <= 5.0 for k in ("yaw_deg", "pitch_deg", "roll_deg"))
        robot = _spec(physics, "lift_pot", "robot_init", 5, seed).params
        assert len(robot["joint_offsets"]) == 10
        assert max(abs(x) for x in robot["joint_offsets"]) <= 0.225
        noise = _spec(physics, "lift_pot", "noise", 5, seed).params
        assert noise["corruption"] == "fog" and 1.26 <= noise["fog_strength"] <= 1.5
        layout = _spec(physics, "lift_pot", "layout", 5, seed).params
        assert 13 <= layout["n_distractors"] <= 15 and layout["target"]["jitter_m"] >= 0.032
        assert abs(layout["target"]["yaw_deg"]) >= 12.0
        background = _spec(physics, "lift_pot", "background", 5, seed).params
        assert -0.03 <= background["table_height_m"] <= -0.024
        light = _spec(physics, "lift_pot", "light", 5, seed).params
        assert all(2.8 <= t <= 3.5 for t in light["tint"])
        assert light["intensity_log2"] == light["azimuth_deg"] == light["elevation_deg"] == 0
        assert light["ambient"] == 0  # the study's light axis is the tint alone
    kinds = {_spec(physics, t, "language", 3, s).params["kind"] for t in TASKS for s in range(6)}
    assert kinds <= {"distractor", "commonsense", "reasoning"} and len(kinds) >= 2


def test_manifest_tasks_are_the_implemented_tasks(physics):
    assert [t.name for t in physics.tasks()] == list(TASKS)
    assert len(TASKS) >= 8
    assert {d.arms for d in TASKS.values()} == {"both", "either"}


def test_bad_options_fail_with_one_line():
    with pytest.raises(UsageError, match="image_width must be an integer"):
        _suite(render=True, image_width="wide")
    with pytest.raises(UsageError) as bad:
        make_suite(options={"render": "maybe"})
    assert str(bad.value) == ("suite robotwin_plus: --suite-arg render=maybe must be "
                              "0 (physics only) or 1")


def test_render_0_declares_no_cameras_over_the_manifest(physics):
    rendering = dataclasses.replace(SuiteManifest.packaged("robotwin_plus"),
                                    options={"render": True})
    assert make_suite(rendering).env_spec.cameras
    assert make_suite(rendering, {"render": "0"}).env_spec.cameras == ()
    assert physics.env_spec.cameras == ()


@pytest.mark.parametrize("command", ["serve --policy=scripted", "record"])
def test_the_commands_take_the_suite_args_as_pytest_does(capsys, command):
    """`wamrobust serve` must describe the clients' suite: physics-only clients see no
    cameras, so the server is told `--suite-arg render=0` too."""
    argv = [*command.split(), "--suite=robotwin_plus", "--suite-arg", "render=maybe"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == ("wamrobust " + command.split()[0] + ": error: suite "
                                       "robotwin_plus: --suite-arg render=maybe must be "
                                       "0 (physics only) or 1\n")


# --- kinematics and physics ---------------------------------------------------------


def test_inverse_kinematics_round_trips_over_the_workspace():
    kin = ArmKinematics((-0.3, -0.36))
    rng = np.random.default_rng(0)
    for _ in range(200):
        pos = np.array([rng.uniform(-0.4, -0.05), rng.uniform(-0.15, 0.15),
                        rng.uniform(0.04, 0.25)])
        target = EefTarget(pos, float(rng.uniform(-1.5, 1.5)))
        reached = kin.forward(kin.inverse(target))
        assert np.allclose(reached.pos, target.pos, atol=1e-9)
        assert math.isclose(math.cos(2 * reached.yaw), math.cos(2 * target.yaw), abs_tol=1e-9)
    # Out of reach: the arm stretches toward the target instead of producing NaNs.
    far = kin.forward(kin.inverse(EefTarget(np.array([0.5, 0.6, 0.1]), 0.0)))
    assert np.all(np.isfinite(far.pos)) and far.pos[0] > -0.1


def test_measured_grasp_centre_follows_the_target_in_physics(physics):
    env = physics.make_env(_spec(physics, "lift_bar"))
    start = env.reset().privileged["arms"]["left"]["eef"]
    move = np.zeros(10)
    move[[0, 2, 5]] = (0.5, -1.0, -0.5)  # left: right and down; right: left
    for action in [move] * 8 + [np.zeros(10)] * 8:
        env.step(action)
    arms = env.world()["arms"]
    assert np.allclose(arms["left"]["target"] - start, [0.08, 0.0, -0.16], atol=1e-6)
    for arm in arms.values():
        assert np.linalg.norm(arm["eef"] - arm["target"]) < 0.005


def test_oracle_takes_the_chunking_options_of_every_oracle(physics):
    oracle = make_oracle(PolicyContext(physics.env_spec, {"chunk_length": "8",
                                                          "replan_steps": "4"}))
    assert (oracle.metadata.chunk_length, oracle.metadata.replan_steps) == (8, 4)
    spec = _spec(physics, "lift_bar", seed=1)
    assert run_episode(physics.make_env(spec), oracle, spec).status == "success"
    with pytest.raises(UsageError, match=r"^--policy-arg replan_steps=9 must be in "
                                         r"1\.\.chunk_length=4$"):
        make_oracle(PolicyContext(physics.env_spec, {"chunk_length": "4", "replan_steps": "9"}))


@pytest.mark.parametrize("task", list(TASKS))
def test_oracle_solves_each_clean_task(physics, task):
    spec = _spec(physics, task, seed=1)
    oracle = make_oracle(PolicyContext(physics.env_spec))
    result = run_episode(physics.make_env(spec), oracle, spec)
    assert result.status == "success", result.error
    assert result.steps < spec.max_steps


@pytest.mark.slow
@pytest.mark.parametrize("axis", ["clean", "robot_init", "layout", "background"])
def test_oracle_solves_at_least_90_percent_per_task(physics, axis):
    """The issue's bar (>= 90% per clean task), also under the axes that move things."""
    oracle = make_oracle(PolicyContext(physics.env_spec))
    for task in TASKS:
        specs = [_spec(physics, task, axis, 5, seed) for seed in range(10)]
        wins = sum(run_episode(physics.make_env(s), oracle, s).status == "success" for s in specs)
        assert wins >= 9, f"{task} {axis}: {wins}/10"


def test_noop_policy_does_not_succeed(physics):
    spec = _spec(physics, "lift_pot")
    env = physics.make_env(spec)
    env.reset()
    for _ in range(40):
        env.step(np.zeros(10))
    assert not env.success()


def test_same_case_same_outcome_in_another_process(physics):
    """Reproducible: a fresh interpreter gets the same parameters and the same end state."""
    spec = _spec(physics, "handover_bar", "layout", 5, 2)
    here = _final_world(physics, spec, steps=80).privileged["objects"]["bar"]["pos"]
    code = (
        "import dataclasses, numpy as np;"
        "from tests.sims.test_robotwin import _suite, _spec, _final_world;"
        "s=_suite(render=False); sp=_spec(s,'handover_bar','layout',5,2);"
        "print(sp.params_json());"
        "print(repr(_final_world(s, sp, steps=80).privileged['objects']['bar']['pos'].tolist()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__)))).stdout.splitlines()
    assert out[0] == spec.params_json()
    assert np.allclose(eval(out[1]), here, atol=1e-9)


def test_robot_init_moves_the_arms_and_can_close_the_grippers(physics):
    clean = physics.make_env(_spec(physics, "lift_pot")).reset().state
    moved = [physics.make_env(_spec(physics, "lift_pot", "robot_init", 5, s)) for s in range(12)]
    states = [(env.reset().state, env.episode.params["gripper"]) for env in moved]
    assert all(np.abs(state[:5] - clean[:5]).max() > 0.02 for state, _ in states)
    for state, gripper in states:
        if gripper == "closed":
            assert state[5] < 0.05 and state[15] < 0.05


def test_layout_adds_distractors_and_moves_the_target(physics):
    clean = physics.make_env(_spec(physics, "place_can_on_plate"))
    clean.reset()
    env = physics.make_env(_spec(physics, "place_can_on_plate", "layout", 5))
    observation = env.reset()
    assert len(env.distractors) >= 10
    moved = observation.privileged["objects"]["can"]["pos"]
    assert np.linalg.norm(moved[:2] - clean.world()["objects"]["can"]["pos"][:2]) > 0.03


# --- rendering ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered():
    suite = _suite(render=True)
    try:
        images = {}
        for axis in ("clean", *AXES):
            env = suite.make_env(_spec(suite, "place_dual_blocks", axis, 5))
            images[axis] = env.reset().images
            env.close()
    except MissingAssetError as exc:
        pytest.skip(str(exc))
    return suite, images


def test_three_cameras_render_at_the_declared_size(rendered):
    suite, images = rendered
    clean = images["clean"]
    assert set(clean) == {"head", "left_wrist", "right_wrist"}
    for camera in suite.env_spec.cameras:
        assert clean[camera.name].shape == (camera.height, camera.width, 3)
        assert clean[camera.name].dtype == np.uint8 and clean[camera.name].std() > 10
    assert not np.array_equal(clean["left_wrist"], clean["right_wrist"])


@pytest.mark.parametrize("axis", ["camera", "light", "background", "noise", "layout"])
def test_visual_axes_change_the_head_image(rendered, axis):
    _, images = rendered
    head, clean = images[axis]["head"].astype(int), images["clean"]["head"].astype(int)
    diff = np.abs(head - clean).max(axis=2)
    assert np.mean(diff > 25) > 0.01  # a visible change, not rendering jitter


def test_camera_and_noise_leave_the_wrist_cameras_alone(rendered):
    _, images = rendered
    for axis in ("camera", "noise", "language"):
        for wrist in ("left_wrist", "right_wrist"):
            assert np.array_equal(images[axis][wrist], images["clean"][wrist])


def test_no_vulkan_device_is_one_line_naming_the_fix(tmp_path):
    code = (
        "from pytest_wamrobust.sims.robotwin.vulkan import render_system\n"
        "try:\n    render_system()\n"
        "except Exception as e:\n    print(type(e).__name__ + ': ' + str(e))\n"
    )
    env = {**os.environ, "VK_ICD_FILENAMES": str(tmp_path / "missing_icd.json")}
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                         env=env, timeout=120).stdout.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("MissingAssetError: robotwin_plus: no Vulkan device")
    assert "scripts/setup_vulkan.sh" in out[0]


# --- through the plugin -------------------------------------------------------------


def test_plugin_runs_the_suite_under_xdist_and_writes_junit(pytester, monkeypatch):
    """What a user types: two workers, each building its own renderer lazily."""
    monkeypatch.setenv("WAMROBUST_VULKAN_DIR", str(LAVAPIPE_DIR))
    report = pytester.path / "report.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--policy=scripted", "--suite=robotwin_plus",
        "--tasks=press_buttons,put_in_basket", "--axes=clean,camera,noise", "--levels=5",
        "-n", "2", f"--junitxml={report}", timeout=300)
    # the skip: test_latency, benchmarks are off under xdist
    result.assert_outcomes(passed=6, skipped=1)
    result.stdout.fnmatch_lines(["*suite robotwin_plus, policy scripted: 6 episodes*",
                                 "noise * 100.0%*"])
    xml = report.read_text()
    assert 'name="wam.setting" value="noise"' in xml and "fog_strength" in xml
