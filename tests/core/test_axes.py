"""The seven axes: level bands, identities, deterministic draws from the case id."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_wamrobust.core.cases import sampling, seeding
from pytest_wamrobust.core.cases.axes import (
    AXIS_REGISTRY,
    LEVELS,
    Band,
    get_axis,
    rewrite_instruction,
)
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import AXES, CaseKey


def test_every_axis_of_the_study_is_defined_once():
    assert tuple(AXIS_REGISTRY) == AXES == (
        "camera", "robot_init", "language", "light", "background", "noise", "layout")


@given(band=st.tuples(st.floats(-10, 10), st.floats(-10, 10)), level=st.sampled_from(LEVELS))
def test_level_bands_tile_the_range_in_order(band, level):
    b = Band(*band)
    lo, hi = b.interval(level)
    assert min(band) - 1e-9 <= lo <= hi <= max(band) + 1e-9
    if level > 1 and band[1] > band[0]:
        assert b.interval(level - 1)[1] == pytest.approx(lo)


@pytest.mark.parametrize("axis", AXES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_draws_respect_the_level_band(axis, data):
    ax = get_axis(axis)
    level = data.draw(st.sampled_from(LEVELS))
    params = data.draw(ax.strategy(level))
    ranges = ax.default_ranges
    if axis == "camera":
        lo, hi = ranges.orbit_deg.interval(level)
        assert lo - 1e-9 <= abs(params["orbit_deg"]) <= hi + 1e-9
        dlo, dhi = ranges.distance_scale.interval(level)
        assert dlo <= params["distance_scale"] <= dhi
        assert 1.15 <= params["distance_scale"] <= 2.0  # LIBERO-Plus' distance range
        assert all(2.0 - 1e-9 <= abs(params[k]) <= 10.0 + 1e-9 for k in ("yaw_deg", "pitch_deg"))
    elif axis == "robot_init":
        lo, hi = ranges.offset_rad.interval(level)
        assert len(params["joint_offsets"]) == ranges.n_joints
        assert all(lo - 1e-9 <= abs(x) <= hi + 1e-9 for x in params["joint_offsets"])
    elif axis == "noise":
        assert params["severity"] == level
        assert params["corruption"] in ranges.corruptions
    elif axis == "layout":
        moved = params["target"]["jitter_m"] > 0
        assert not (moved and params["n_distractors"] > 0)  # LIBERO-Plus: one or the other
        assert 0 <= params["n_distractors"] <= ranges.max_distractors
    elif axis == "language":
        assert params["kind"] in ranges.kinds_by_level[level - 1]
    json.dumps(params)  # parameters travel as JUnit properties


@pytest.mark.parametrize("axis", AXES)
def test_identity_parameters_are_neutral(axis):
    identity = get_axis(axis).identity()
    flat = json.dumps(identity, sort_keys=True)
    assert "NaN" not in flat
    if axis == "camera":
        assert identity["distance_scale"] == 1.0
        assert all(identity[k] == 0.0 for k in identity if k.endswith("_deg"))
    if axis == "robot_init":
        assert set(identity["joint_offsets"]) == {0.0} and identity["gripper"] == "keep"


def test_language_identity_keeps_the_instruction_and_rewrites_pick_from_the_bank():
    bank = {"paraphrase": ("grab the cube", "take the cube")}
    identity = get_axis("language").identity()
    assert rewrite_instruction("pick the cube", bank, identity) == "pick the cube"
    paraphrase = {"kind": "paraphrase", "choice": 3}
    assert rewrite_instruction("pick the cube", bank, paraphrase) == "take the cube"
    with pytest.raises(UsageError, match="reasoning"):
        rewrite_instruction("pick the cube", bank, {"kind": "reasoning", "choice": 0})


def test_a_case_draws_the_same_parameters_every_time():
    key = CaseKey("tabletop", "pick_cube", "camera", 3, 7)
    strategy = get_axis("camera").strategy(3)
    first = sampling.draw(strategy, seeding.derive_seed(key, "params"))
    assert first == sampling.draw(strategy, seeding.derive_seed(key, "params"))
    next_seed = CaseKey("tabletop", "pick_cube", "camera", 3, 8)
    other = sampling.draw(strategy, seeding.derive_seed(next_seed, "params"))
    assert other != first


def test_draws_are_identical_in_a_fresh_process_with_another_hash_seed():
    code = (
        "import json; from pytest_wamrobust.core.cases import sampling, seeding;"
        "from pytest_wamrobust.core.cases.axes import AXIS_REGISTRY;"
        "from pytest_wamrobust.core.model.types import CaseKey;"
        "print(json.dumps({a: sampling.draw(ax.strategy(4), seeding.derive_seed("
        "CaseKey('s', 't', a, 4, 2), 'params')) for a, ax in AXIS_REGISTRY.items()},"
        " sort_keys=True))"
    )
    outputs = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        outputs.add(run.stdout)
    assert len(outputs) == 1


def test_episode_seed_matches_the_clean_control_across_axes_and_levels():
    clean = CaseKey("tabletop", "pick_cube", "clean", 0, 3)
    perturbed = CaseKey("tabletop", "pick_cube", "light", 5, 3)
    assert seeding.episode_seed(clean) == seeding.episode_seed(perturbed)
    next_seed = CaseKey("tabletop", "pick_cube", "clean", 0, 4)
    assert seeding.episode_seed(clean) != seeding.episode_seed(next_seed)


def test_suite_overrides_are_checked():
    camera = get_axis("camera")
    ranges = camera.ranges({"distance_scale": {"start": 1.0, "end": 0.85, "identity": 1.0}})
    assert ranges.distance_scale.interval(5) == pytest.approx((0.85, 0.88))
    with pytest.raises(UsageError, match="unknown keys"):
        camera.ranges({"zoom": [0, 1]})
    with pytest.raises(UsageError, match="expected"):
        camera.ranges({"orbit_deg": "wide"})
    with pytest.raises(UsageError, match="unknown axis"):
        get_axis("weather")
