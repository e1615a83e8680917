"""The variant list a user runs: all 10,030, filterable, sampled, never truncated."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection
from pytest_wamrobust.core.model.types import AXES, CaseKey

PUBLISHED_SUITES = {"libero_spatial": 2402, "libero_object": 2518,
                    "libero_goal": 2591, "libero_10": 2519}
PUBLISHED_AXES = {"noise": 1601, "camera": 1599, "robot_init": 1550, "language": 1537,
                  "layout": 1525, "light": 1142, "background": 1076}
CASE_ID = re.compile(r"^libero_plus/libero_(spatial|object|goal|10)__[A-Za-z0-9_]+/"
                     r"(camera|robot_init|language|light|background|noise|layout)/L[1-5]/s\d\d+$")


def test_every_published_variant_is_one_case(suite):
    keys = list(suite.cases(CaseSelection()))
    assert len(keys) == len(set(keys)) == 10030
    assert Counter(k.task.split("__")[0] for k in keys) == PUBLISHED_SUITES
    assert Counter(k.setting for k in keys) == PUBLISHED_AXES
    assert all(CASE_ID.match(k.case_id) for k in keys)
    # grouped by sub-suite, in LIBERO-Plus' order
    order = [k.task.split("__")[0] for k in keys]
    assert order == sorted(order, key=list(PUBLISHED_SUITES).index)
    # each case id names exactly one variant, and the spec carries it
    variants = {suite.variant(k).name for k in keys}
    assert len(variants) == 10030
    spec = suite.episode_spec(keys[1234])
    assert spec.params["variant"] == suite.variant(keys[1234]).name
    assert spec.max_steps in (220, 280, 300, 520)


def test_a_truncated_variant_list_is_refused(catalog):
    """Upstream bug 3: launchers that ran '10 tasks x 50 trials' saw only the first
    variants of a suite. A list that does not match the published sizes fails."""
    from pytest_wamrobust.sims.libero_plus.variants import Catalog

    truncated = Catalog(catalog.root, catalog.variants[:500])
    with pytest.raises(UsageError, match="does not match the published sizes"):
        truncated.check_sizes()
    catalog.check_sizes()


def test_levels_follow_the_encoded_magnitude(catalog):
    by_axis = {axis: [v for v in catalog.variants if v.setting == axis] for axis in AXES}
    for axis, variants in by_axis.items():
        assert {v.level for v in variants} == {1, 2, 3, 4, 5}, axis
    for v in by_axis["robot_init"]:
        assert v.level == round(v.params["offset_rad"] / 0.1)
    for v in by_axis["noise"]:
        assert v.level == (v.params["severity"] + 1) // 2
    jitter = [v for v in by_axis["layout"] if v.params["change"] == "region_jitter"]
    assert all(f"_level{v.level}_" in v.name for v in jitter)


def test_filters_by_task_axis_and_level(suite):
    goal_camera = list(suite.cases(CaseSelection(tasks=["libero_goal"], settings=["camera"],
                                                 levels=[1, 2])))
    assert goal_camera
    assert {k.task.split("__")[0] for k in goal_camera} == {"libero_goal"}
    assert {k.setting for k in goal_camera} == {"camera"}
    assert {k.level for k in goal_camera} <= {1, 2}

    one_task = list(suite.cases(CaseSelection(tasks=["turn_on_the_stove"])))
    assert {k.task for k in one_task} == {"libero_goal__turn_on_the_stove"}
    assert len(one_task) == sum(1 for v in suite.catalog.variants
                                if v.task == "libero_goal__turn_on_the_stove")
    globbed = list(suite.cases(CaseSelection(tasks=["libero_10__LIVING_ROOM_*"])))
    assert {k.task.split("__")[1].split("_SCENE")[0] for k in globbed} == {"LIVING_ROOM"}

    first = list(suite.cases(CaseSelection(settings=["noise"], seeds=1)))
    assert {k.seed_index for k in first} == {0}


def test_clean_control_is_opt_in(suite):
    clean = list(suite.cases(CaseSelection(settings=["clean"])))
    assert len(clean) == 40  # the 4 x 10 original LIBERO tasks
    assert all(k.setting == "clean" and k.level == 0 for k in clean)
    spec = suite.episode_spec(clean[0])
    assert spec.params["variant"].endswith("_view_0_0_100_0_0_initstate_0")


@pytest.mark.parametrize("selection, message", [
    (CaseSelection(settings=["weather"]), "unknown settings"),
    (CaseSelection(levels=[7]), "levels must be 1-5"),
    (CaseSelection(tasks=["libero_100"]), "no variant matches --tasks"),
])
def test_bad_selection_is_one_clear_line(suite, selection, message):
    with pytest.raises(UsageError, match=message) as info:
        list(suite.cases(selection))
    assert "\n" not in str(info.value)


def test_unknown_case_id_is_one_clear_line(suite):
    with pytest.raises(UsageError, match="no variant has case id"):
        suite.episode_spec(CaseKey("libero_plus", "libero_goal__turn_on_the_stove",
                                   "camera", 1, 999))


def test_stratified_sample_is_deterministic_and_balanced(suite):
    from pytest_wamrobust.core.cases.sharding import stratified_sample

    cases = list(suite.cases(CaseSelection()))
    first = stratified_sample(cases, 2)
    assert first == stratified_sample(list(reversed(cases)), 2)[::-1]  # order-free choice
    assert Counter((k.setting, k.level) for k in first) == {(a, lv): 2 for a in AXES
                                                         for lv in range(1, 6)}
    assert set(first) <= set(cases)
    # spread over sub-suites rather than the first variants of the first one
    assert len({k.task.split("__")[0] for k in first}) == 4


def test_runnable_offline_per_axis(catalog):
    """With the PyPI assets alone, 5 of 7 axes run (6,983 variants); the upstream archive
    adds light, background and added-object layouts."""
    runnable = catalog.runnable_counts()
    if (catalog.assets_dir() / "scenes" / "lights").is_dir():
        assert runnable == PUBLISHED_AXES
    else:
        assert runnable == {**PUBLISHED_AXES, "light": 0, "background": 0, "layout": 696}
        assert sum(runnable.values()) == 6983


def test_upstream_difficulty_annotation_replaces_the_derived_levels(catalog, tmp_path):
    """LIBERO_PLUS_CLASSIFICATION: upstream's task_classification.json decides the level;
    a file whose categories disagree with the variants' names is refused in one line."""
    import json

    camera = next(v for v in catalog.variants if v.setting == "camera")
    noise = next(v for v in catalog.variants if v.setting == "noise")
    new_level = camera.level % 5 + 1
    path = tmp_path / "task_classification.json"
    path.write_text(json.dumps({camera.sub_suite: [
        {"name": camera.name, "category": "Camera Viewpoints", "difficulty_level": new_level}]}))
    relabelled = catalog.with_classification(str(path))
    by_name = {(v.sub_suite, v.name): v for v in relabelled.variants}
    assert by_name[(camera.sub_suite, camera.name)].level == new_level
    assert by_name[(noise.sub_suite, noise.name)].level == noise.level  # not in the file

    path.write_text(json.dumps({noise.sub_suite: [
        {"name": noise.name, "category": "Light Conditions", "difficulty_level": 2}]}))
    with pytest.raises(UsageError, match=f"{noise.name} is light there but noise by its name"):
        catalog.with_classification(str(path))
    with pytest.raises(UsageError, match="LIBERO_PLUS_CLASSIFICATION=.*cannot read it"):
        catalog.with_classification(str(tmp_path / "missing.json"))
