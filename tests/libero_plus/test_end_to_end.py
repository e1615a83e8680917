"""Real rollouts: one variant per axis that runs offline, driven by built-in policies."""

from __future__ import annotations

from dataclasses import replace
from importlib.metadata import entry_points

import numpy as np
import pytest

from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.model.results import ERROR
from pytest_wamrobust.core.running.episode import run_episode

RUNNABLE_OFFLINE = ["clean", "camera", "robot_init", "language", "noise", "layout"]
STEP_LIMIT = 15  # enough for 3 chunks; the protocol's limits are 220-520


def _policy(name: str, env_spec):
    (factory,) = [ep for ep in entry_points(group="pytest_wamrobust.policies") if ep.name == name]
    return factory.load()(PolicyContext(env_spec=env_spec))


@pytest.mark.slow
@pytest.mark.parametrize("axis", RUNNABLE_OFFLINE)
def test_one_variant_per_runnable_axis_rolls_out(suite, axis):
    key = next(k for k in suite.cases(CaseSelection(settings=[axis], tasks=["libero_object"]))
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
    key = next(iter(suite.cases(CaseSelection(settings=["clean"], tasks=["libero_goal"]))))
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


def test_pytest_run_reports_the_variant_and_names_missing_assets(suite, tmp_path):
    """`pytest --suite=libero_plus`: a runnable variant is one JUnit case with its
    properties; a light variant without the upstream archive is skipped, counted in the
    summary, and names the missing file."""
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    task = "libero_spatial__pick_up_the_black_bowl_next_to_the_plate_and_place_it_on_the_plate"
    light = next(iter(suite.cases(CaseSelection(tasks=[task], settings=["light"]))))
    report = tmp_path / "report.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
               "--suite=libero_plus", "--policy=noop", f"--tasks={task}",
               "--axes=robot_init,light", f"--levels={light.level}", "--seeds=1",
               f"--junitxml={report}", "-k", "test_episode"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr  # noop does not solve robot_init
    assert "skipped 1 episodes (not run, not in the rates):" in done.stdout
    cases = {case.get("name"): case for case in ET.parse(report).iter("testcase")}
    robot = cases[f"test_episode[libero_plus/{task}/robot_init/L{light.level}/s00]"]
    props = {p.get("name"): p.get("value") for p in robot.iter("property")}
    assert props["wam.setting"] == "robot_init" and props["wam.status"] == "failure"
    assert props["wam.steps"] == "220"  # libero_spatial's protocol limit
    assert "initstate" in props["wam.params"] and "initstate" not in props["wam.instruction"]
    light_case = cases[f"test_episode[{light.case_id}]"]
    assert [r.tag for r in light_case if r.tag in ("skipped", "error", "failure")] == ["skipped"]
    message = " ".join(f"{r.get('message', '')} {r.text or ''}" for r in light_case
                       if r.tag == "skipped")
    assert "needs assets/scenes/lights/" in message
    assert "install_libero_plus.sh --assets" in message
