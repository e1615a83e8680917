"""The shipped tiny-vla / tiny-wam: offline loading, real rollouts, same outcome on any worker."""

from __future__ import annotations

import json

import pytest

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.registry import make_policy
from pytest_wamrobust.core.model.types import CLEAN, CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.tiny.checkpoint import packaged_dir
from pytest_wamrobust.sims.tabletop.suite import make_suite

POLICIES = ("tiny-vla", "tiny-wam")


@pytest.mark.parametrize("name", POLICIES)
def test_packaged_weights_are_small_and_describe_their_training(name):
    folder = packaged_dir()
    assert (folder / f"{name}.safetensors").stat().st_size <= 20e6
    meta = json.loads((folder / f"{name}.json").read_text())
    assert meta["config"]["kind"] == name.split("-")[1]
    assert {"pick", "drawer", "<unk>"} <= set(meta["vocabulary"])
    assert meta["info"]["demo_episodes"] > 0 and meta["info"]["train_seconds"] > 0


def test_same_cases_same_outcomes_on_one_and_two_workers(pytester, run_plugin, junit_episodes):
    """The WAM samples its imagination noise; seeded per episode, -n 2 changes nothing."""
    args = ("--policy=tiny-wam", "--suite=tabletop", "--tasks=lift_cube,open_drawer",
            "--axes=clean,noise", "--levels=3", "--seeds=1")
    run_plugin(*args, "-p", "no:xdist", junit="one.xml")
    run_plugin(*args, "-n", "2", junit="two.xml")
    one, two = (
        {name: (props["wam.status"], props["wam.steps"])
         for name, props in junit_episodes(pytester.path / xml).items()}
        for xml in ("one.xml", "two.xml"))
    assert len(one) == 4 and one == two  # 2 tasks x (clean + noise L3)


@pytest.mark.slow  # 40 rollouts of a learned policy each (~1 min of CPU): a quality check
@pytest.mark.parametrize("name", POLICIES)
def test_clean_success_on_held_out_scenes(name):
    """Seed indices 0-4 of every task (40 episodes, ~10 s): scenes no demo was recorded on."""
    suite = make_suite()
    policy = make_policy(name, PolicyContext(suite.env_spec))
    wins = total = 0
    for task in suite.tasks():
        for j in range(5):
            spec = suite.episode_spec(CaseKey(suite.name, task.name, CLEAN, 0, j))
            env = suite.make_env(spec)
            try:
                result = run_episode(env, policy, spec)
            finally:
                env.close()
            assert not result.error, result.error
            wins, total = wins + result.success, total + 1
    assert wins / total >= 0.8, f"{name} solved {wins}/{total} clean held-out episodes"


def test_serving_a_libero_policy_without_suite_names_the_suite_it_fits(capsys):
    """`wamrobust serve --policy=tiny-vla-libero` defaults to tabletop, whose wrist camera the
    checkpoint never saw: the one line says which --suite it reads."""
    code = main(["serve", "--policy=tiny-vla-libero", "--port=0"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("wamrobust serve: error: tiny-vla-libero was trained on suites with "
                          "cameras ['agentview', 'robot0_eye_in_hand']"), err
    assert err.endswith("; pass --suite=libero_plus, whose observations it reads\n"), err
