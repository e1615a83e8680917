"""Every suite keeps the contract a user relies on, the same for all of them: its case
ids parse back to the cases, each axis changes only what it claims, the clean scene is
the same every time it is built, and what `reset` returns is what `env_spec` declares.

Runs over every suite registered under `pytest_wamrobust.suites` and the example
third-party suite (examples/wamrobust-example-suite), on one task, one case per setting.
libero_plus needs LIBERO's variant catalog, so without it only its options are checked
(the rest skips with the install line), and its scenes take ~20 s each to build: under
`.venv-libero/bin/python -m pytest tests/sims/test_suite_conformance.py` its case ids
are checked, and with `-m slow` its scenes too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_wamrobust.core.model import entry_points, registry
from pytest_wamrobust.core.model.errors import MissingAssetError, UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext, Suite
from pytest_wamrobust.core.model.types import AXES, CLEAN, CaseKey, Observation

EXAMPLE = "wamrobust_example_suite:make_suite"
EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "wamrobust-example-suite" / "src"
#: The example's oracle, for when its package is not installed here.
ORACLES = {EXAMPLE: "wamrobust_example_suite:make_oracle"}
#: The `--suite-arg`s a suite is checked with: libero_plus only the variants the installed
#: assets can build; robotwin_plus physics only, as SAPIEN's renderer takes ~20 s to
#: start on a CPU (the slow selection plays it with its cameras too).
OPTIONS = {"libero_plus": {"variants": "runnable"}, "robotwin_plus": {"render": "0"}}
#: Suites whose scenes take minutes to build on this machine (LIBERO: ~20 s per scene).
SLOW_TO_PLAY = ("libero_plus",)
REGISTERED = entry_points.available(entry_points.SUITES)
SUITES = [
    *(pytest.param((name, OPTIONS.get(name, {})), id=name) for name in REGISTERED),
    *([] if "reach2d" in REGISTERED else [pytest.param((EXAMPLE, {}), id="reach2d")]),
]
PLAYED = [
    *(pytest.param(*p.values, id=p.id, marks=[pytest.mark.slow] if p.id in SLOW_TO_PLAY else [])
      for p in SUITES),
    pytest.param(("robotwin_plus", {}), id="robotwin_plus-rendered", marks=pytest.mark.slow),
]
IMAGES = {"third_person", "other_cameras"}

#: What each axis may change in the first observation, compared with the clean case of
#: the same seed; everything else must be equal. "third_person": a third-person camera's
#: image; "other_cameras": any other camera's (wrist cameras ride on the robot).
CLAIMS = {
    "camera": {"third_person"},
    "noise": {"third_person"},
    "light": {"third_person", "other_cameras"},
    # the tabletop's background may raise the table, and the objects on it
    "background": {"third_person", "other_cameras", "privileged"},
    "layout": {"third_person", "other_cameras", "privileged"},
    "robot_init": {"third_person", "other_cameras", "state", "privileged"},
    "language": {"instruction"},
}


@dataclass
class Played:
    """One suite's cases of one task: the first observation of each setting's case."""

    suite: Suite
    oracle: str
    keys: dict[str, CaseKey]
    first: dict[str, Observation]
    clean_again: Observation


def _make(name: str, options: dict[str, str] | None = None) -> Suite:
    """What `--suite NAME --suite-arg ...` makes (the example from its source tree)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE_SRC))
        return registry.make_suite(name, options)


@pytest.fixture(scope="module", params=SUITES)
def suite_spec(request) -> tuple[str, dict[str, str]]:
    """A `--suite` value and its `--suite-arg`s."""
    return request.param


@pytest.fixture(scope="module")
def suite(suite_spec) -> Suite:
    return _make(*suite_spec)


def _selection_cases(suite: Suite) -> list[CaseKey]:
    try:
        return list(suite.cases(CaseSelection(seeds=1)))
    except UsageError as missing:  # libero_plus without its catalog: the install line
        pytest.skip(str(missing))


@pytest.fixture(scope="module", params=PLAYED)
def played(request) -> Played:
    name, options = request.param
    suite = _make(name, options)
    settings_of: dict[str, set[str]] = {}
    for key in _selection_cases(suite):  # the task with the most settings (libero_plus's vary)
        settings_of.setdefault(key.task, set()).add(key.setting)
    task = max(settings_of, key=lambda t: len(settings_of[t]))
    keys = {}
    for setting in (CLEAN, *AXES):
        cases = [k for k in suite.cases(CaseSelection(tasks=[task], settings=[setting], seeds=1))
                 if k.level in (0, 3)] or list(
            suite.cases(CaseSelection(tasks=[task], settings=[setting], seeds=1)))
        if cases:
            keys[setting] = cases[0]
    try:
        first = {setting: _first_observation(suite, key) for setting, key in keys.items()}
        clean_again = _first_observation(suite, keys[CLEAN])
    except MissingAssetError as missing:  # no renderer here (robotwin_plus without Vulkan)
        pytest.skip(str(missing))
    return Played(suite, ORACLES.get(name, "scripted"), keys, first, clean_again)


def _first_observation(suite: Suite, key: CaseKey) -> Observation:
    env = suite.make_env(suite.episode_spec(key))
    try:
        return env.reset()
    finally:
        env.close()


def test_case_ids_parse_back_to_their_cases(suite):
    keys = _selection_cases(suite)
    assert keys and len(set(keys)) == len(keys)
    for key in keys:
        assert CaseKey.parse(key.case_id) == key
        assert key.suite == suite.name
    for key in keys[:: max(1, len(keys) // 20)]:
        assert suite.episode_spec(key).key == key


def test_env_spec_is_what_reset_returns(played):
    spec = played.suite.env_spec
    for setting, observation in played.first.items():
        assert set(observation.images) == {c.name for c in spec.cameras}, setting
        for camera in spec.cameras:
            image = observation.images[camera.name]
            assert image.shape == (camera.height, camera.width, 3), (setting, camera.name)
            assert image.dtype == np.uint8
        state = np.asarray(observation.state)
        assert state.shape == (spec.state_dim,) and np.isfinite(state).all(), setting
        assert isinstance(observation.instruction, str) and observation.instruction


def test_the_oracle_acts_in_env_spec_dims(played):
    """`--policy=scripted`'s chunk has `action_dim` columns, and the env takes them."""
    suite, key = played.suite, played.keys[CLEAN]
    spec = suite.episode_spec(key)
    oracle = registry.policy_factory(played.oracle)(PolicyContext(suite.env_spec))
    oracle.reset(key.task, spec.episode_seed)
    env = suite.make_env(spec)
    try:
        chunk = np.asarray(oracle.infer(env.reset()))
        assert chunk.shape == (oracle.metadata.chunk_length, suite.env_spec.action_dim)
        env.step(chunk[0])
        assert np.asarray(env.observe().state).shape == (suite.env_spec.state_dim,)
    finally:
        env.close()


def test_the_clean_scene_is_the_same_every_time(played):
    assert _changed(played.first[CLEAN], played.clean_again, played.suite) == set()


@pytest.mark.parametrize("axis", AXES)
def test_each_axis_changes_only_what_it_claims(played, axis):
    if axis not in played.keys:
        pytest.skip(f"{played.suite.name} has no {axis} case for this task")
    changed = _changed(played.first[CLEAN], played.first[axis], played.suite)
    if not played.suite.env_spec.cameras and CLAIMS[axis] <= IMAGES:
        assert changed == set(), f"{played.keys[axis].case_id} changed {sorted(changed)}"
        return
    assert changed, f"{played.keys[axis].case_id} starts exactly as clean"
    assert changed <= CLAIMS[axis], f"{played.keys[axis].case_id} also changed " \
        f"{sorted(changed - CLAIMS[axis])}"


def _changed(clean: Observation, other: Observation, suite: Suite) -> set[str]:
    third_person = {c.name for c in suite.env_spec.cameras if c.role == "third_person"}
    changed = {"third_person" if name in third_person else "other_cameras"
               for name in clean.images
               if not np.array_equal(clean.images[name], other.images.get(name))}
    if not np.array_equal(clean.state, other.state):
        changed.add("state")
    if clean.instruction != other.instruction:
        changed.add("instruction")
    if not _same(clean.privileged, other.privileged):
        changed.add("privileged")
    return changed


def _same(a: Any, b: Any) -> bool:
    """Equal simulator state, nested mappings and sequences of arrays included."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except (TypeError, ValueError):
        return a == b


# --- the options every suite takes the same way -------------------------------------


def test_an_unknown_suite_arg_is_one_line_naming_the_ones_it_takes(suite_spec, suite):
    with pytest.raises(UsageError) as refused:
        _make(suite_spec[0], {"colour": "red"})
    assert str(refused.value).startswith(f"suite {suite.name} does not take --suite-arg "
                                         f"colour; it takes: ")
