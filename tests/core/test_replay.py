"""Replay cases: their id form beside the grid's, their JUnit round trip, and the stored
failure files a search writes and --wam-replay reads (rollouts:
tests/plugin/test_search_runs.py)."""

from __future__ import annotations

import json
from fnmatch import fnmatch

import pytest

from pytest_wamrobust.core.cases.sharding import Shard, shard_cases
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.search.breaking_point import SearchKey, SearchResult
from pytest_wamrobust.core.search.replay import case_spec, replay_specs, save_failure
from pytest_wamrobust.sims.tabletop.suite import make_suite

PARAMS = {"intensity_log2": -0.345, "tint": [-0.138, -0.138, -0.138], "ambient": 0.069,
          "azimuth_deg": -20.7, "elevation_deg": -6.9}


def found(task: str = "lift_cube", m: float = 0.23, params=PARAMS) -> SearchResult:
    return SearchResult(SearchKey("tabletop", task, "light"), "tiny-vla", 12, 20, found=True,
                        breaking_magnitude=m, params=params, scene=0, episode_seed=1657306580,
                        status="failure")


def test_grid_ids_are_unchanged_and_a_replay_id_parses_to_its_key():
    grid = CaseKey("tabletop", "lift_cube", "light", 3, 7)
    assert grid.case_id == "tabletop/lift_cube/light/L3/s07"
    assert CaseKey.parse(grid.case_id) == grid and grid.replay == ""
    replay = CaseKey("tabletop", "lift_cube", "light", 2, 0, "m0.23/b9a8624f2c")
    assert replay.case_id == "tabletop/lift_cube/light/m0.23/b9a8624f2c"
    assert CaseKey.parse(replay.case_id) == replay  # level = the level m falls in
    assert CaseKey.parse("tabletop/a/b/light/m0.41/0123456789").task == "a/b"
    clean = CaseKey.parse("tabletop/lift_cube/light/m0.00/0123456789")  # failed unperturbed
    assert clean is not None and clean.level == 1  # an axis' cases have levels 1-5
    for bad in ("tabletop/lift_cube/light/m1.50/b9a8624f2c", "tabletop/lift_cube/light/m0.2/x",
                "tabletop/lift_cube/light/m0.23/B9A8624F2C"):
        assert CaseKey.parse(bad) is None


def test_a_replay_result_round_trips_through_its_properties_and_a_grid_one_is_as_before():
    replay = CaseKey("tabletop", "lift_cube", "light", 2, 0, "m0.23/b9a8624f2c")
    result = EpisodeResult(replay, "failure", 120, params=PARAMS, episode_seed=5)
    assert ("wam.replay", "m0.23/b9a8624f2c") in result.to_properties()
    assert EpisodeResult.from_properties(result.to_properties()).key == replay
    grid = EpisodeResult(CaseKey("tabletop", "lift_cube", "light", 2, 0), "failure", 120)
    assert not any(name == "wam.replay" for name, _ in grid.to_properties())
    assert EpisodeResult.from_properties(grid.to_properties()).key.replay == ""


def test_kept_failures_become_replay_cases_with_their_exact_episode(tmp_path):
    suite = make_suite()
    assert save_failure(tmp_path, SearchResult(SearchKey("tabletop", "lift_cube", "light"),
                                               "p", 20, 20, found=False)) is None
    path = save_failure(tmp_path, found())
    assert path is not None and json.loads(path.read_text())["params"] == PARAMS
    save_failure(tmp_path, found("open_drawer", 0.81, {**PARAMS, "ambient": 0.1}))
    specs = replay_specs(suite, CaseSelection(), tmp_path)
    assert [k.case_id.rsplit("/", 1)[0] for k in specs] == [
        "tabletop/lift_cube/light/m0.23", "tabletop/open_drawer/light/m0.81"]
    key, spec = next(iter(specs.items()))
    assert (key.level, spec.params, spec.episode_seed) == (2, PARAMS, 1657306580)
    assert case_spec(suite, key, specs) is spec
    grid = CaseKey("tabletop", "lift_cube", "light", 2, 0)  # the grid's own draw differs
    assert case_spec(suite, grid, specs).params != PARAMS
    assert list(replay_specs(suite, CaseSelection(levels=(5,)), tmp_path))[0].level == 5
    assert len(set(shard_cases(specs, Shard(1, 2)) + shard_cases(specs, Shard(2, 2)))) == 2


@pytest.mark.parametrize(("selection", "content", "line"), [
    (CaseSelection(settings=("camera",)), None, "no stored failure of suite tabletop in the*"),
    (CaseSelection(), "{not json", "*is not a stored failure*delete it or rerun --wam-search"),
    (CaseSelection(), '{"task": "fly", "axis": "light", "magnitude": 0.2, "params": {},'
                      ' "scene": 0, "episode_seed": 1}', "*names task 'fly'*"),
])
def test_bad_or_missing_stored_failures_are_one_line(tmp_path, selection, content, line):
    save_failure(tmp_path, found())
    if content is not None:
        (tmp_path / "replay" / "tabletop" / "lift_cube" / "light" / "zz.json").write_text(content)
    with pytest.raises(UsageError) as error:
        replay_specs(make_suite(), selection, tmp_path)
    assert "\n" not in str(error.value)
    assert fnmatch(str(error.value), "--wam-replay: " + line), str(error.value)
