"""Recording real oracle demos and training on them: compact files, same seed -> same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.cases.seeding import episode_seed
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.registry import make_policy
from pytest_wamrobust.core.model.types import CLEAN, CaseKey
from pytest_wamrobust.policies.tiny.demos import Episode, demo_key, record
from pytest_wamrobust.policies.tiny.training import train
from pytest_wamrobust.sims.tabletop.suite import make_suite


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    suite = make_suite()
    oracle = make_policy("scripted", PolicyContext(suite.env_spec))
    out = tmp_path_factory.mktemp("demos")
    counts = record(suite, oracle, out, ["lift_cube", "open_drawer"], 2, 64,
                    progress=lambda _: None)
    assert counts == {"lift_cube": 2, "open_drawer": 2}
    return out


def test_demos_are_successful_compact_episodes_on_unseen_scenes(demos):
    files = sorted(demos.glob("*/*.npz"))
    assert len(files) == 4
    test_seeds = {episode_seed(CaseKey("tabletop", "lift_cube", CLEAN, 0, j)) for j in range(100)}
    for path in files:
        ep = Episode.load(path)
        steps = len(ep.states)
        assert ep.images["agentview"].shape == (steps, 64, 64, 3)
        assert ep.images["wrist"].dtype == np.uint8
        assert ep.plans.shape == (steps, 10, 7) and ep.actions.shape == (steps, 7)
        assert np.abs(ep.actions).max() <= 1.0
        assert ep.instruction in ("pick up the red cube", "open the drawer")
        assert path.stat().st_size < 40 * steps * 1024  # compressed uint8 frames, not floats
        if ep.task == "lift_cube":
            demo = demo_key("tabletop", ep.task, ep.seed_index - 100_000)
            assert episode_seed(demo) not in test_seeds


@pytest.mark.parametrize("kind", ["vla", "wam"])
def test_training_is_deterministic_given_its_seed(demos, kind):
    a = train(kind, demos, steps=3, seed=5, batch_size=8, progress=lambda _: None)
    b = train(kind, demos, steps=3, seed=5, batch_size=8, progress=lambda _: None)
    c = train(kind, demos, steps=3, seed=6, batch_size=8, progress=lambda _: None)
    assert a.weights.keys() == b.weights.keys()
    assert all(torch.equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert not all(torch.equal(a.weights[k], c.weights[k]) for k in a.weights)
    assert a.vocab.tokens[2:] == sorted({"pick", "up", "the", "red", "cube", "open", "drawer"})


def test_train_command_saves_loadable_weights_and_rejects_missing_demos(demos, tmp_path, capsys):
    assert main(["train", "tiny-vla", "--demos", str(demos), "--steps", "2", "--batch-size", "4",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tiny-vla.safetensors").stat().st_size < 20e6
    suite = make_suite()
    policy = make_policy("tiny-vla", PolicyContext(suite.env_spec, {"weights": str(tmp_path)}))
    assert policy.metadata.name == "tiny-vla"
    assert main(["train", "tiny-wam", "--demos", str(tmp_path / "none")]) == 2
    assert "no demos under" in capsys.readouterr().err


def test_record_dual_arm_demos_keep_every_camera_and_the_action_size(tmp_path, capsys):
    """The dual-arm suite records too (head + two wrist cameras at half width, 20-d state,
    10-d actions); tiny-vla/tiny-wam then refuse those demos in one line."""
    assert main(["record", "--suite", "robotwin_plus", "--tasks", "lift_pot", "--episodes", "1",
                 "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("lift_pot/*.npz")
    episode = Episode.load(path)
    assert {name: frames.shape[1:] for name, frames in episode.images.items()} == {
        "head": (60, 80, 3), "left_wrist": (60, 80, 3), "right_wrist": (60, 80, 3)}
    assert episode.states.shape[1] == 20 and episode.actions.shape[1] == 10
    assert episode.plans.shape[2] == 10 and len(episode.states) == len(episode.actions)
    capsys.readouterr()
    assert main(["train", "tiny-vla", "--demos", str(tmp_path), "--steps", "1"]) == 2
    assert "lack cameras" in capsys.readouterr().err
