"""`--policy=tiny-vla-libero`: the tiny-vla recipe trained on the LIBERO oracle's demos.

It is the learned positive control of the real benchmark: it must load from the
package, act on a real LIBERO observation (7-d chunks in [-1, 1], the same chunk on
every run) and, slow, solve clean libero_spatial episodes from LIBERO's init states it
was not trained on (demos use init states 10 and up, clean cases 0-9).
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.model.registry import make_policy, make_suite
from pytest_wamrobust.core.model.results import SUCCESS
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.tiny.checkpoint import packaged_dir
from pytest_wamrobust.policies.tiny.demos import Episode
from pytest_wamrobust.sims.libero_plus import protocol

NAME = "tiny-vla-libero"
MAX_WEIGHT_BYTES = 20 * 2**20
SPATIAL = "libero_spatial__pick_up_the_black_bowl_next_to_the_plate_and_place_it_on_the_plate"
#: Solved from init states 0 and 1 in the measured clean run (docs/libero_plus.md).
SOLVED = ("libero_spatial__pick_up_the_black_bowl_between_the_plate_and_the_ramekin_and_place_"
          "it_on_the_plate")


def _policy(env_spec):
    """Built the way `--policy=tiny-vla-libero` builds it (the entry point)."""
    return make_policy(NAME, PolicyContext(env_spec=env_spec))


def test_the_packaged_weights_are_within_size():
    weights = packaged_dir() / f"{NAME}.safetensors"
    assert weights.is_file() and (packaged_dir() / f"{NAME}.json").is_file()
    assert 0 < weights.stat().st_size <= MAX_WEIGHT_BYTES


def test_clean_seeds_and_demo_scenes_are_disjoint_init_states(suite):
    keys = list(suite.cases(CaseSelection(settings=["clean"], tasks=[SPATIAL], seeds=3)))
    tested = [suite.episode_spec(k).params["init_state"] for k in keys]
    assert tested == [0, 1, 2]
    demos = [suite.episode_spec(suite.demo_case(SPATIAL, i)).params["init_state"]
             for i in range(40)]
    assert demos == list(range(protocol.TEST_INIT_STATES, protocol.TEST_INIT_STATES + 40))
    assert suite.demo_case(SPATIAL, 40) is None  # LIBERO records 50: recording stops there
    many = suite.cases(CaseSelection(settings=["clean"], tasks=[SPATIAL], seeds=50))
    assert max(k.seed_index for k in many) < protocol.TEST_INIT_STATES


def test_runnable_variants_leave_out_only_what_the_assets_cannot_build(suite):
    """`--suite-arg variants=runnable`, which the LIBERO-Plus sample of the docs uses."""
    runnable = make_suite("libero_plus", {"variants": "runnable"})
    everything = list(suite.cases(CaseSelection()))
    kept = list(runnable.cases(CaseSelection()))
    buildable = [k for k in everything if suite.catalog.extra_assets_present(suite.variant(k))]
    assert kept == buildable and 0 < len(kept) < len(everything)
    with pytest.raises(UsageError, match=r"^suite libero_plus: --suite-arg variants=some "
                                         r"must be all or runnable$"):
        make_suite("libero_plus", {"variants": "some"})


def test_it_acts_on_a_real_observation_deterministically(suite):
    key = next(iter(suite.cases(CaseSelection(settings=["clean"], tasks=[SPATIAL]))))
    env = suite.make_env(suite.episode_spec(key))
    try:
        obs = env.reset()
    finally:
        env.close()
    policy = _policy(suite.env_spec)
    assert policy.metadata.name == NAME and policy.metadata.family == "vla"
    policy.reset(key.task, 0)
    chunk = policy.infer(obs)
    assert chunk.shape == (policy.metadata.chunk_length, protocol.ACTION_DIM)
    assert np.isfinite(chunk).all() and np.abs(chunk).max() <= 1.0
    assert np.abs(chunk[:, :3]).max() > 0.05  # it moves the arm, not a zero chunk
    again = _policy(suite.env_spec)
    again.reset(key.task, 0)
    assert np.array_equal(again.infer(obs), chunk)
    assert np.array_equal(policy.infer(obs), chunk)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_it_solves_clean_libero_spatial_episodes(suite, seed):
    """Held-out init states (the clean cases'), the standard protocol and step limit."""
    keys = list(suite.cases(CaseSelection(settings=["clean"], tasks=[SOLVED], seeds=2)))
    spec = suite.episode_spec(keys[seed])
    env = suite.make_env(spec)
    try:
        result = run_episode(env, _policy(suite.env_spec), spec)
    finally:
        env.close()
    assert result.status == SUCCESS, (spec.key.case_id, result.status, result.steps)


@pytest.mark.slow
def test_recording_is_deterministic_and_starts_from_demo_init_states(suite, tmp_path):
    """`wamrobust record --suite libero_plus` twice, a noisy demo (odd index): the same
    file, from init state 11, holding the cameras the policy sees when it replans."""
    args = ["record", "--suite", "libero_plus", "--tasks", SPATIAL, "--episodes", "1",
            "--start", "1", "--every", "5"]
    episodes = []
    for run in ("a", "b"):
        assert main([*args, "--out", str(tmp_path / run)]) == 0
        (path,) = (tmp_path / run).glob("*/*.npz")
        assert path.name == f"{protocol.TEST_INIT_STATES + 1}.npz"
        episodes.append(Episode.load(path))
    a, b = episodes
    assert set(a.images) == {protocol.AGENTVIEW, protocol.WRIST}
    assert a.images[protocol.AGENTVIEW].shape[1:] == (64, 64, 3)
    assert a.plans.shape[1:] == (10, protocol.ACTION_DIM) and len(a.plans) == len(a.states)
    for name in a.images:
        assert np.array_equal(a.images[name], b.images[name])
    assert np.array_equal(a.states, b.states) and np.array_equal(a.plans, b.plans)
    assert np.array_equal(a.actions, b.actions)
