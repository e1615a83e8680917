"""Suite manifests: validation with one-line errors, and the case grid they produce."""

from __future__ import annotations

import copy

import pytest

from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection
from pytest_wamrobust.core.model.types import AXES

REWRITES = {k: [f"{k} one", f"{k} two"] for k in
            ("paraphrase", "synonyms", "distractor", "constraint", "reasoning")}


def manifest_dict(**suite):
    return {
        "suite": {"name": "mini", "default_levels": [1, 3], "default_seeds": 2, **suite},
        "tasks": [
            {"name": "a", "instruction": "do a", "max_steps": 10,
             "rewrites": copy.deepcopy(REWRITES)},
            {"name": "b", "instruction": "do b", "max_steps": 20,
             "rewrites": copy.deepcopy(REWRITES)},
        ],
        "axes": {"camera": {"roll_deg": {"start": 0, "end": 5, "signed": True}}},
    }


def test_manifest_file_round_trip(tmp_path):
    import tomllib  # noqa: F401 - the format is TOML
    path = tmp_path / "mini.toml"
    path.write_text(
        '[suite]\nname = "mini"\n\n[[tasks]]\nname = "a"\ninstruction = "do a"\nmax_steps = 5\n'
        '[tasks.rewrites]\n' + "".join(f'{k} = ["{k} x"]\n' for k in REWRITES)
    )
    manifest = SuiteManifest.load(path)
    assert manifest.task("a").rewrites["reasoning"] == ("reasoning x",)
    assert manifest.axis_ranges["camera"].roll_deg.end == 0.0


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("suite"), "missing \\[suite\\]"),
    (lambda d: d["tasks"].clear(), "at least one"),
    (lambda d: d["tasks"][1].update(name="a"), "duplicate task"),
    (lambda d: d["tasks"][0].pop("max_steps"), "max_steps"),
    (lambda d: d["tasks"][0]["rewrites"].pop("reasoning"), "reasoning"),
    (lambda d: d["axes"].update(weather={}), "unknown axes"),
    (lambda d: d["axes"]["camera"].update(zoom=[0, 1]), "unknown keys"),
    (lambda d: d["suite"].update(default_levels=[0, 9]), "default_levels"),
])
def test_malformed_manifests_fail_with_one_line(mutate, message):
    data = manifest_dict()
    mutate(data)
    with pytest.raises(UsageError, match=message) as info:
        SuiteManifest.from_dict(data, source="mini.toml")
    assert "\n" not in str(info.value)


def test_suite_options_are_read_under_their_old_name_too():
    """`[suite.options]` was `[suite.settings]` (settings are clean and the seven axes):
    a project's copy of a manifest written before the rename still reads."""
    assert SuiteManifest.from_dict(manifest_dict(options={"size": 64})).options == {"size": 64}
    assert SuiteManifest.from_dict(manifest_dict(settings={"size": 64})).options == {"size": 64}
    with pytest.raises(UsageError, match=r"both \[suite.options\] and \[suite.settings\], its "
                                         r"old name; keep \[suite.options\]"):
        SuiteManifest.from_dict(manifest_dict(options={}, settings={}), source="mini.toml")

def test_unreadable_manifest_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[suite\nname=")
    with pytest.raises(UsageError, match="not valid TOML"):
        SuiteManifest.load(bad)
    with pytest.raises(UsageError, match="not found"):
        SuiteManifest.load(tmp_path / "missing.toml")


def test_grid_enumerates_clean_plus_seven_axes_in_a_stable_order():
    suite = GridSuite(SuiteManifest.from_dict(manifest_dict()))
    keys = list(suite.cases(CaseSelection()))
    assert keys == list(suite.cases(CaseSelection()))
    per_task = 2 * 2 + len(AXES) * 2 * 2  # clean: seeds x levels; axes: levels x seeds
    assert len(keys) == 2 * per_task
    assert len({k.case_id for k in keys}) == len(keys)
    assert keys[0].case_id == "mini/a/clean/L0/s00"
    assert "mini/b/camera/L3/s01" in {k.case_id for k in keys}


def test_selection_filters_and_rejects_unknown_names():
    suite = GridSuite(SuiteManifest.from_dict(manifest_dict()))
    keys = list(suite.cases(CaseSelection(tasks=["b"], settings=["noise"], levels=[5], seeds=3)))
    assert [k.case_id for k in keys] == [f"mini/b/noise/L5/s0{j}" for j in range(3)]
    with pytest.raises(UsageError, match="unknown task"):
        list(suite.cases(CaseSelection(tasks=["zzz"])))
    with pytest.raises(UsageError, match="mini: unknown setting 'fog'; choose from clean, "):
        list(suite.cases(CaseSelection(settings=["fog"])))


def test_episode_specs_are_deterministic_and_share_the_clean_scene():
    suite = GridSuite(SuiteManifest.from_dict(manifest_dict()))
    keys = {k.case_id: k for k in suite.cases(CaseSelection())}
    camera = suite.episode_spec(keys["mini/a/camera/L3/s01"])
    assert camera == suite.episode_spec(keys["mini/a/camera/L3/s01"])
    assert abs(camera.params["roll_deg"]) <= 5.0
    clean = suite.episode_spec(keys["mini/a/clean/L0/s01"])
    assert clean.params == {} and clean.episode_seed == camera.episode_seed
    assert camera.max_steps == 10
