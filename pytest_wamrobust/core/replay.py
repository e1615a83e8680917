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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_wamrobust.core.errors import UsageError, one_line
from pytest_wamrobust.core.protocols import CaseSelection, Suite
from pytest_wamrobust.core.types import AXES, CaseKey, EpisodeSpec, replay_level

if TYPE_CHECKING:
    from pytest_wamrobust.core.search import SearchResult

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
    Nothing stored, or a file that does not read, is one line."""
    root = Path(examples_dir, REPLAY_DIR, suite.name)
    tasks = {t.name: t for t in suite.tasks()}
    specs: dict[CaseKey, EpisodeSpec] = {}
    for path in sorted(root.glob("*/*/*.json")):
        try:
            data = json.loads(path.read_text())
            task, axis, magnitude = data["task"], data["axis"], float(data["magnitude"])
            params, scene = dict(data["params"]), int(data["scene"])
            seed = int(data["episode_seed"])
            level = replay_level(magnitude)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--wam-replay: {path} is not a stored failure "
                             f"({one_line(exc)}); delete it or rerun --wam-search") from None
        if task not in tasks or axis not in AXES:
            raise UsageError(f"--wam-replay: {path} names task {task!r}, axis {axis!r}, "
                             f"which suite {suite.name} does not have")
        if (selection.tasks and task not in selection.tasks
                or selection.axes and axis not in selection.axes
                or selection.levels and level not in selection.levels):
            continue
        key = CaseKey(suite.name, task, axis, level, 0,
                      replay=replay_id(magnitude, params, scene))
        specs[key] = EpisodeSpec(key=key, task=tasks[task], params=params, episode_seed=seed)
    if not specs:
        raise UsageError(f"--wam-replay: no stored failure of suite {suite.name} in the "
                         f"selected tasks and axes under {root}; --wam-search keeps them there")
    return dict(sorted(specs.items()))


def case_spec(suite: Suite, key: CaseKey, replays: Mapping[CaseKey, EpisodeSpec]) -> EpisodeSpec:
    """The episode of any case: a replay case's stored one, the others' from the suite."""
    if not key.replay:
        return suite.episode_spec(key)
    spec = replays.get(key)
    if spec is None:
        raise UsageError(f"replay case {key.case_id} is not among this run's stored failures")
    return spec
