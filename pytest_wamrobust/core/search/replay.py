"""`--wam-replay`: the failing perturbations a search kept, played again as ordinary
episode cases, the regression suite "does the candidate still fail where the last
release failed?".

A search that finds a failure writes it as one JSON file under the example folder,
`<examples>/replay/<suite>/<task>/<axis>/<hash>.json`, beside Hypothesis' own database:
the exact parameters, the magnitude, the scene and its episode seed, so a replay needs
neither Hypothesis nor the ranges the search drew from. Its case key carries
`replay = "m0.23/<hash>"` (id `tabletop/lift_cube/light/m0.23/<hash>`, level = the
level m falls in, 1 for m = 0, seed index 0): the suite cannot draw its parameters from the key, so
`case_spec` takes them from the stored file, here, in an xdist worker and in a Ray actor.

Pure (no pytest).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.protocols import CaseSelection, Suite
from pytest_wamrobust.core.model.types import AXES, CaseKey, EpisodeSpec, replay_level

if TYPE_CHECKING:
    from pytest_wamrobust.core.search.breaking_point import SearchResult

#: The sub-folder of the example folder that holds the replayable failures.
REPLAY_DIR = "replay"


def replay_id(magnitude: float, params: Mapping[str, Any], scene: int) -> str:
    """`m0.23/<hash>`: the magnitude to read, a hash of the whole perturbation to tell
    two failures at one magnitude apart."""
    text = json.dumps([round(magnitude, 2), params, scene], sort_keys=True)
    return f"m{magnitude:.2f}/{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def save_failure(examples_dir: str | Path, result: SearchResult) -> Path | None:
    """Keep a search's smallest failure for `--wam-replay` (None when it found none)."""
    if not result.found or result.errored:
        return None
    key = result.key
    name = replay_id(result.breaking_magnitude, result.params, result.scene).split("/")[1]
    path = Path(examples_dir, REPLAY_DIR, key.suite, key.task, key.axis, f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "suite": key.suite, "task": key.task, "axis": key.axis,
        "magnitude": result.breaking_magnitude, "params": result.params,
        "scene": result.scene, "episode_seed": result.episode_seed,
        "found_by": result.policy, "status": result.status,
        "instruction": result.instruction}, indent=1, sort_keys=True) + "\n")
    return path


def replay_specs(suite: Suite, selection: CaseSelection,
                 examples_dir: str | Path) -> dict[CaseKey, EpisodeSpec]:
    """The stored failures of `suite` within the selection's tasks and axes (levels:
    `replay_level(m)`), each as a replay case and its exact episode, in case order.
    Nothing stored, or a file that does not read, is one line: every file is checked
    here, the selected or not, so a hand edit never surfaces as an episode's error."""
    root = Path(examples_dir, REPLAY_DIR, suite.name)
    tasks = {t.name: t for t in suite.tasks()}
    specs: dict[CaseKey, EpisodeSpec] = {}
    for path in sorted(root.glob("*/*/*.json")):
        data = _stored_failure(path, suite, tasks)
        task, axis, magnitude = data["task"], data["axis"], float(data["magnitude"])
        params, scene, seed = data["params"], data["scene"], data["episode_seed"]
        level = replay_level(magnitude)
        if (selection.tasks and task not in selection.tasks
                or selection.settings and axis not in selection.settings
                or selection.levels and level not in selection.levels):
            continue
        key = CaseKey(suite.name, task, axis, level, 0,
                      replay=replay_id(magnitude, params, scene))
        specs[key] = EpisodeSpec(key=key, task=tasks[task], params=params, episode_seed=seed)
    if not specs:
        raise UsageError(f"--wam-replay: no stored failure of suite {suite.name} in the "
                         f"selected tasks and axes under {root}; --wam-search keeps them there")
    return dict(sorted(specs.items()))


def _stored_failure(path: Path, suite: Suite, tasks: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of one stored failure, each checked against what a search writes (the
    parameters against the shape of the axis' own), or one line naming the entry."""
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
    except (OSError, ValueError) as exc:
        raise UsageError(f"--wam-replay: {path} is not a stored failure ({one_line(exc)}); "
                         f"delete it or rerun --wam-search") from None

    def bad(entry: str, what: str) -> UsageError:
        return UsageError(f"--wam-replay: {path}: {entry} {what}; fix that entry or delete "
                          f"the file (--wam-search keeps the failure again)")

    missing = [e for e in ("task", "axis", "magnitude", "params", "scene", "episode_seed")
               if e not in data]
    if missing:
        raise bad(", ".join(missing), "is missing" if len(missing) == 1 else "are missing")
    task, axis, magnitude = data["task"], data["axis"], data["magnitude"]
    if not isinstance(task, str) or task not in tasks or axis not in AXES:
        raise UsageError(f"--wam-replay: {path} names task {task!r}, axis {axis!r}, "
                         f"which suite {suite.name} does not have")
    if not _is_real(magnitude) or not 0 <= magnitude <= 1:
        raise bad("magnitude", f"= {magnitude!r} must be a number in [0, 1]")
    scene, seed = data["scene"], data["episode_seed"]
    if not _is_integer(scene) or scene < 0:
        raise bad("scene", f"= {scene!r} must be a whole number >= 0")
    if not _is_integer(seed) or not 0 <= seed < 2**32:
        raise bad("episode_seed", f"= {seed!r} must be a 32-bit seed, a whole number in "
                                  f"[0, 2**32)")
    from pytest_wamrobust.core.cases.axes import get_axis  # Hypothesis: only where one replays
    from pytest_wamrobust.core.search.breaking_point import axis_ranges

    problem = _unlike(data["params"], get_axis(axis).identity(axis_ranges(suite, axis)),
                      "params")
    if problem:
        raise bad(*problem)
    return data


def _unlike(value: Any, like: Any, entry: str) -> tuple[str, str] | None:
    """Where `value` differs in shape from `like`, the axis' identity parameters (same
    keys, list lengths, strings, whole and real numbers): (entry, what it must be)."""
    if isinstance(like, dict):
        if not isinstance(value, dict):
            return entry, f"= {value!r} must be a table of {', '.join(sorted(like))}"
        odd = sorted(set(value) ^ set(like))
        if odd:
            return f"{entry}.{odd[0]}", ("is missing" if odd[0] in like else
                                         f"is unknown; this axis takes {', '.join(sorted(like))}")
        found = (_unlike(value[k], like[k], f"{entry}.{k}") for k in sorted(like))
        return next((problem for problem in found if problem), None)
    if isinstance(like, list):
        if not isinstance(value, list) or len(value) != len(like):
            return entry, f"= {value!r} must be a list of {len(like)} values"
        found = (_unlike(v, w, f"{entry}[{i}]")
                 for i, (v, w) in enumerate(zip(value, like, strict=True)))
        return next((problem for problem in found if problem), None)
    if isinstance(like, str):
        return None if isinstance(value, str) else (entry, f"= {value!r} must be a string")
    if isinstance(like, int):
        return None if _is_integer(value) else (entry, f"= {value!r} must be a whole number")
    return None if _is_real(value) else (entry, f"= {value!r} must be a finite number")


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def case_spec(suite: Suite, key: CaseKey, replays: Mapping[CaseKey, EpisodeSpec]) -> EpisodeSpec:
    """The episode of any case: a replay case's stored one, the others' from the suite."""
    if not key.replay:
        return suite.episode_spec(key)
    spec = replays.get(key)
    if spec is None:
        raise UsageError(f"replay case {key.case_id} is not among this run's stored failures")
    return spec
