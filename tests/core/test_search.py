"""The search's magnitude scale and Hypothesis engine, on predicates whose breaking
point is known (the rollouts on a real simulator are in tests/plugin/test_search.py)."""

from __future__ import annotations

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase

from pytest_wamrobust.core.cases.axes import get_axis, rewrite_instruction
from pytest_wamrobust.core.judging.gates import ThresholdsError, parse_thresholds
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import AXES, TaskSpec, level_of
from pytest_wamrobust.core.search.breaking_point import Rollout, SearchKey, SearchResult, run_search


def test_magnitude_levels_are_fifths_and_zero_is_clean():
    assert [level_of(m) for m in (0.0, 0.01, 0.2, 0.21, 0.4, 0.41, 0.8, 0.81, 1.0)] == [
        0, 1, 1, 2, 2, 3, 4, 5, 5]
    with pytest.raises(ValueError):
        level_of(1.5)
    for axis in AXES:  # Hypothesis' simplest example is m = 0: the clean scene
        ax = get_axis(axis)
        assert find(ax.magnitude_strategy(), lambda e: True) == (0.0, ax.identity())


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_magnitude_draws_inside_its_level_of_the_grid(data):
    """m in level L's fifth gives parameters the grid's level L could draw."""
    camera = get_axis("camera")
    m, params = data.draw(camera.magnitude_strategy())
    r = camera.default_ranges
    if m == 0:
        return
    level = level_of(m)
    for name in ("orbit_deg", "distance_scale", "yaw_deg"):
        lo, hi = getattr(r, name).interval(level)
        assert lo - 1e-9 <= abs(params[name]) <= hi + 1e-9
    # the whole band at one point of its range: orbit at m of 75 degrees
    assert abs(params["orbit_deg"]) == pytest.approx(75.0 * m)


def _threshold_rollout(threshold: float):
    """Light intensity at or beyond `threshold` of its range fails (log2 1.5 is m = 1)."""
    def roll(spec):
        broken = abs(spec.params.get("intensity_log2", 0.0)) >= 1.5 * threshold - 1e-9
        return Rollout(EpisodeResult(spec.key, "failure" if broken else "success", 5), 0.5)
    return roll


def test_the_search_shrinks_to_the_breaking_magnitude_and_replays_it_first():
    key, task = SearchKey("tabletop", "lift_cube", "light"), TaskSpec("lift_cube", "lift", 10)
    db = InMemoryExampleDatabase()
    first = run_search(key, task, None, 1, _threshold_rollout(0.37), max_examples=20,
                       database=db)
    assert first.found and first.breaking_magnitude == 0.37 and first.level == 2
    assert first.params["intensity_log2"] == pytest.approx(-0.555) or \
        first.params["intensity_log2"] == pytest.approx(0.555)
    again = run_search(key, task, None, 1, _threshold_rollout(0.37), max_examples=20,
                       database=db)
    assert (again.breaking_magnitude, again.params) == (first.breaking_magnitude, first.params)
    assert again.examples < first.examples
    back = SearchResult.from_properties(again.to_properties())
    assert back is not None and back.params == again.params and back.examples == again.examples


def test_no_failure_is_magnitude_one():
    key, task = SearchKey("tabletop", "lift_cube", "light"), TaskSpec("lift_cube", "lift", 10)
    result = run_search(key, task, None, 1, _threshold_rollout(2.0), max_examples=6,
                        database=None)
    assert not result.found and result.breaking_magnitude == 1.0 and result.examples == 6
    assert result.summary() == "no failure in 6 examples (breaking magnitude 1)"


def test_min_breaking_magnitude_global_and_per_axis():
    t = parse_thresholds({"min_breaking_magnitude": 0.4}, "f")
    assert t.configured and t.min_breaking_magnitude("camera") == 0.4
    t = parse_thresholds({"min_breaking_magnitude": {"default": 0.3, "language": 0.6}}, "f")
    assert (t.min_breaking_magnitude("light"), t.min_breaking_magnitude("language")) == (0.3, 0.6)
    assert parse_thresholds({}, "f").min_breaking_magnitude("light") is None
    for bad in (1.5, "x", {"lite": 0.2}):
        with pytest.raises(ThresholdsError, match="min_breaking_magnitude"):
            parse_thresholds({"min_breaking_magnitude": bad}, "f")


def test_a_language_search_plays_each_rewrite_once_and_lands_on_its_level():
    """m within a level does not change a rewrite, nor does a rewrite index that names
    the same instruction: such examples are free, and the breaking point is the level's
    first step."""
    rewrites = {kind: (f"{kind} one", f"{kind} two") for kind in
                ("paraphrase", "synonyms", "distractor", "constraint", "reasoning")}
    key = SearchKey("tabletop", "lift_cube", "language")
    task = TaskSpec("lift_cube", "lift", 10, rewrites=rewrites)
    played = []

    def roll(spec):  # rewrite indices 0, 2, 4, ... name the same rewrite of a bank of two
        shown = rewrite_instruction(task.instruction, rewrites, spec.params)
        played.append((spec.key.level, shown, spec.key.seed_index))
        broken = spec.params["kind"] == "distractor"
        return Rollout(EpisodeResult(spec.key, "failure" if broken else "success", 5), 0.5)

    result = run_search(key, task, None, 2, roll, max_examples=40, database=None)
    assert result.found and result.params["kind"] == "distractor"
    assert result.breaking_magnitude == 0.41  # level 3, where distractors start
    replays = len(played) - len(set(played))
    assert replays == 1  # only the final replay of the failure plays an episode again
