"""The seven perturbation axes: each one parameter space, defined once.

An axis is data plus pure functions, after dm_control's composer variations:
`strategy(level, ranges)` is the Hypothesis strategy of its parameters at difficulty
level 1-5 (used both to sample a case and to search for failures), and
`identity(ranges)` is the level-0 parameter set that must reproduce the clean scene
exactly. `magnitude_strategy(ranges)` spans the whole axis for the breaking-point search:
a magnitude m in [0, 1] (0 the identity, 1 the far edge of level 5, level L its L-th
fifth) with every band of the axis at that point of its range, and the axis' other
parameters (signs, directions, kinds, seeds) free. Suites supply only the ranges that
differ (suites/<name>.toml, `[axes.<axis>]`) and the code that applies the parameters to
their own scene.

Default ranges follow LIBERO-Plus (camera orbit +-75 deg, elevation 15 deg, distance
x1.15-2.0, in-place rotation up to 10 deg; joint offsets 0.1-0.5 rad; 1-5 distractors
or 1-5 cm region jitter; five image corruptions plus pixel noise).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from statistics import NormalDist
from typing import Any

from hypothesis import strategies as st

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import AXES, LEVELS, MAGNITUDE_STEPS

#: Upper bound of the seeds an axis draws for its own randomness (textures, noise,
#: distractors): what numpy's legacy seeding and MuJoCo accept on every platform.
MAX_SUB_SEED = 2**31 - 1
#: The search draws those seeds from a few values: enough variety to find a failure,
#: and few enough that shrinking spends its rollouts on the magnitude, not on a seed.
SEARCH_SUB_SEEDS = 8


def _sub_seed(at: float | None) -> st.SearchStrategy[int]:
    return st.integers(0, MAX_SUB_SEED if at is None else SEARCH_SUB_SEEDS - 1)


@dataclass(frozen=True)
class Band:
    """A magnitude that grows with the level.

    Level L draws from the L-th fifth of [start, end]; a signed band also draws the
    sign. `identity` is the value of the clean scene.
    """

    start: float
    end: float
    signed: bool = False
    identity: float = 0.0

    def interval(self, level: int) -> tuple[float, float]:
        step = (self.end - self.start) / len(LEVELS)
        a = self.start + step * (level - 1)
        b = self.start + step * level
        return (min(a, b), max(a, b))

    def at(self, level: int, fraction: float) -> float:
        """The value `fraction` of the way through level `level`'s fifth, from start to end."""
        step = (self.end - self.start) / len(LEVELS)
        return self.start + step * (level - 1 + fraction)

    def strategy(self, level: int, at: float | None = None) -> st.SearchStrategy[float]:
        """The level's fifth, or with `at` the one value `at` of the way through it."""
        lo, hi = self.interval(level)
        if at is not None:
            magnitude = st.just(self.at(level, at))
        else:
            magnitude = st.just(lo) if lo == hi else st.floats(lo, hi, allow_nan=False)
        if not self.signed:
            return magnitude
        return st.tuples(magnitude, st.sampled_from((-1.0, 1.0))).map(lambda t: t[0] * t[1])

    @classmethod
    def parse(cls, value: Any, where: str) -> Band:
        """Accepts `[start, end]` or a table {start, end, signed, identity}."""
        if isinstance(value, Band):
            return value
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return cls(float(value[0]), float(value[1]))
        if isinstance(value, Mapping) and {"start", "end"} <= set(value):
            unknown = set(value) - {"start", "end", "signed", "identity"}
            if unknown:
                raise UsageError(f"{where}: unknown band keys {sorted(unknown)}")
            return cls(
                float(value["start"]),
                float(value["end"]),
                bool(value.get("signed", False)),
                float(value.get("identity", 0.0)),
            )
        raise UsageError(
            f"{where}: expected [start, end] or {{start=, end=, signed=}}, got {value!r}"
        )


@dataclass(frozen=True)
class AxisRanges:
    """Base of every axis' ranges; `merged` applies a suite's overrides with checks."""

    def merged(self, overrides: Mapping[str, Any], where: str) -> AxisRanges:
        known = {f.name: f for f in fields(self)}
        unknown = set(overrides) - set(known)
        if unknown:
            raise UsageError(
                f"{where}: unknown keys {sorted(unknown)}; this axis accepts {sorted(known)}"
            )
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            current = getattr(self, name)
            if isinstance(current, Band):
                changes[name] = Band.parse(value, f"{where}.{name}")
            elif isinstance(current, tuple):
                if not isinstance(value, (list, tuple)) or not value:
                    raise UsageError(f"{where}.{name}: expected a non-empty list, got {value!r}")
                changes[name] = tuple(value)
            elif isinstance(current, (int, float)) and not isinstance(current, bool):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise UsageError(f"{where}.{name}: expected a number, got {value!r}")
                changes[name] = type(current)(value)
            else:
                changes[name] = value
        return replace(self, **changes)


# --- camera ------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraRanges(AxisRanges):
    """LIBERO-Plus: orbit +-75 deg, elevation 15 deg, distance x1.15-2.0, in-place
    yaw/pitch +-2-10 deg; level 1 starts where its smallest camera variants do."""

    orbit_deg: Band = Band(0.0, 75.0, signed=True)
    elevation_deg: Band = Band(0.0, 15.0, signed=True)
    distance_scale: Band = Band(1.15, 2.0, identity=1.0)
    yaw_deg: Band = Band(2.0, 10.0, signed=True)
    pitch_deg: Band = Band(2.0, 10.0, signed=True)
    roll_deg: Band = Band(0.0, 0.0, signed=True)


def _band_dict(ranges: AxisRanges, level: int, at: float | None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {f.name: getattr(ranges, f.name).strategy(level, at) for f in fields(ranges)
         if isinstance(getattr(ranges, f.name), Band)}
    )


def _band_identity(ranges: AxisRanges) -> dict:
    """Every band at its clean value."""
    return {f.name: getattr(ranges, f.name).identity for f in fields(ranges)
            if isinstance(getattr(ranges, f.name), Band)}


# --- robot initial state -----------------------------------------------------------


@dataclass(frozen=True)
class RobotInitRanges(AxisRanges):
    """Joint offsets added to the initial arm configuration.

    "uniform": each joint gets +-U(band) (LIBERO-Plus, 0.1-0.5 rad). "gaussian": each
    joint gets N(0, sigma) clipped at `clip`, sigma growing with the level
    (RoboTwin 2.0-Plus: sigma 0.1, clip 0.225). With probability `gripper_extreme_p`
    the gripper starts fully open or closed.
    """

    n_joints: int = 7
    distribution: str = "uniform"
    offset_rad: Band = Band(0.1, 0.5)
    sigma_rad: Band = Band(0.0, 0.1)
    clip_rad: float = 0.225
    gripper_extreme_p: float = 0.0


def _robot_init_strategy(r: RobotInitRanges, level: int,
                         at: float | None) -> st.SearchStrategy[dict]:
    if r.distribution == "uniform":
        joint = st.tuples(r.offset_rad.strategy(level, at), st.sampled_from((-1.0, 1.0))).map(
            lambda t: t[0] * t[1]
        )
    elif r.distribution == "gaussian":
        lo, hi = r.sigma_rad.interval(level)
        normal = NormalDist()
        sigma = st.floats(lo, hi) if at is None else st.just(r.sigma_rad.at(level, at))
        joint = st.tuples(sigma, st.floats(0.001, 0.999)).map(
            lambda t: max(-r.clip_rad, min(r.clip_rad, t[0] * normal.inv_cdf(t[1])))
        )
    else:
        raise UsageError("robot_init.distribution must be uniform or gaussian, "
                         f"not {r.distribution!r}")
    gripper = st.just("keep")
    if r.gripper_extreme_p > 0:
        gripper = st.floats(0, 1).flatmap(
            lambda u: (st.sampled_from(("open", "closed")) if u < r.gripper_extreme_p
                       else st.just("keep"))
        )
    return st.fixed_dictionaries(
        {"joint_offsets": st.lists(joint, min_size=r.n_joints, max_size=r.n_joints),
         "gripper": gripper}
    )


def _robot_init_identity(r: RobotInitRanges) -> dict:
    return {"joint_offsets": [0.0] * r.n_joints, "gripper": "keep"}


# --- language ----------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageRanges(AxisRanges):
    """Which rewrite kinds each level draws from (the bank lives with each task).

    Level 1-2 keep the wording close (paraphrase, synonyms); 3-5 add a distractor clause,
    a constraint, or a reasoning-style goal, as in LIBERO-Plus and RoboTwin 2.0-Plus.
    """

    kinds_by_level: tuple = (
        ("paraphrase",),
        ("paraphrase", "synonyms"),
        ("synonyms", "distractor"),
        ("distractor", "constraint"),
        ("constraint", "reasoning"),
    )


def _language_strategy(r: LanguageRanges, level: int,
                       at: float | None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"kind": st.sampled_from(tuple(r.kinds_by_level[level - 1])),
         "choice": _sub_seed(at)}
    )


def _language_identity(r: LanguageRanges) -> dict:
    return {"kind": "", "choice": 0}


def rewrite_instruction(instruction: str, rewrites: Mapping[str, tuple[str, ...]],
                        params: Mapping[str, Any]) -> str:
    """The instruction a language case shows the policy (identity params keep it)."""
    kind = params.get("kind")
    if not kind:
        return instruction
    bank = rewrites.get(kind)
    if not bank:
        raise UsageError(
            f"language rewrite kind {kind!r} has no entries for instruction {instruction!r}; "
            f"add it under the task's rewrites in the suite manifest"
        )
    return bank[int(params["choice"]) % len(bank)]


# --- light -------------------------------------------------------------------------


@dataclass(frozen=True)
class LightRanges(AxisRanges):
    """Key-light changes; `tint` is a per-channel multiplier offset (RoboTwin: 0-3.5)."""

    intensity_log2: Band = Band(0.0, 1.5, signed=True)
    azimuth_deg: Band = Band(0.0, 90.0, signed=True)
    elevation_deg: Band = Band(0.0, 30.0, signed=True)
    tint: Band = Band(0.0, 0.6, signed=True)
    ambient: Band = Band(0.0, 0.3, signed=True)


def _light_strategy(r: LightRanges, level: int, at: float | None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "intensity_log2": r.intensity_log2.strategy(level, at),
            "azimuth_deg": r.azimuth_deg.strategy(level, at),
            "elevation_deg": r.elevation_deg.strategy(level, at),
            "tint": st.lists(r.tint.strategy(level, at), min_size=3, max_size=3),
            "ambient": r.ambient.strategy(level, at),
        }
    )


def _light_identity(r: LightRanges) -> dict:
    return {"intensity_log2": r.intensity_log2.identity, "azimuth_deg": r.azimuth_deg.identity,
            "elevation_deg": r.elevation_deg.identity, "tint": [r.tint.identity] * 3,
            "ambient": r.ambient.identity}


# --- background --------------------------------------------------------------------


@dataclass(frozen=True)
class BackgroundRanges(AxisRanges):
    """Table and wall appearance (texture pattern + colour shift) and table height."""

    patterns: tuple = ("flat", "checker", "gradient", "noise", "stripes")
    color_shift: Band = Band(0.0, 0.8)
    table_height_m: Band = Band(0.0, 0.0)


def _background_strategy(r: BackgroundRanges, level: int,
                         at: float | None) -> st.SearchStrategy[dict]:
    rgb = st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3)

    def surface() -> st.SearchStrategy[dict]:
        return st.fixed_dictionaries(
            {"pattern": st.sampled_from(tuple(r.patterns)),
             "shift": r.color_shift.strategy(level, at),
             "direction": rgb,
             "texture_seed": _sub_seed(at)}
        )

    return st.fixed_dictionaries(
        {"table": surface(), "wall": surface(),
         "table_height_m": r.table_height_m.strategy(level, at)}
    )


def _background_identity(r: BackgroundRanges) -> dict:
    clean = {"pattern": "original", "shift": 0.0, "direction": [0.0, 0.0, 0.0], "texture_seed": 0}
    return {"table": dict(clean), "wall": dict(clean), "table_height_m": r.table_height_m.identity}


# --- noise (image corruptions) -----------------------------------------------------


@dataclass(frozen=True)
class NoiseRanges(AxisRanges):
    """Corruptions of the third-person image; severity equals the level (1-5).

    `fog_strength` is used by suites whose study range is given as fog strength
    (RoboTwin 2.0-Plus: 0.3-1.5); the default fog follows the severity table.
    """

    corruptions: tuple = ("motion_blur", "gaussian_blur", "zoom_blur", "fog", "glass_blur",
                          "pixel_noise")
    fog_strength: Band = Band(0.0, 0.0)


def _noise_strategy(r: NoiseRanges, level: int, at: float | None) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {"corruption": st.sampled_from(tuple(r.corruptions)),
         "severity": st.just(level),
         "fog_strength": r.fog_strength.strategy(level, at),
         "noise_seed": _sub_seed(at)}
    )


def _noise_identity(r: NoiseRanges) -> dict:
    return {"corruption": "none", "severity": 0, "fog_strength": r.fog_strength.identity,
            "noise_seed": 0}


# --- layout ------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutRanges(AxisRanges):
    """Distractor objects and target placement.

    "either" (LIBERO-Plus) perturbs one of the two per case; "both" (RoboTwin
    2.0-Plus) adds distractors and moves the target in every case.
    """

    mode: str = "either"
    distractors: Band = Band(0.0, 5.0)
    jitter_m: Band = Band(0.0, 0.05)
    yaw_deg: Band = Band(0.0, 0.0, signed=True)
    max_distractors: int = 5


def _layout_strategy(r: LayoutRanges, level: int, at: float | None) -> st.SearchStrategy[dict]:
    lo, hi = r.distractors.interval(level)
    count = (st.integers(max(1, math.ceil(lo)), max(1, math.ceil(hi))) if at is None
             else st.just(max(1, math.ceil(r.distractors.at(level, at) - 1e-9))))
    jitter = st.fixed_dictionaries(
        {"jitter_m": r.jitter_m.strategy(level, at),
         "jitter_angle_rad": st.floats(-math.pi, math.pi),
         "yaw_deg": r.yaw_deg.strategy(level, at)}
    )
    seed = _sub_seed(at)
    if r.mode == "both":
        return st.fixed_dictionaries(
            {"n_distractors": count, "distractor_seed": seed, "target": jitter}
        )
    if r.mode != "either":
        raise UsageError(f"layout.mode must be 'either' or 'both', not {r.mode!r}")
    no_move = st.just(_layout_identity(r)["target"])
    return st.one_of(
        st.fixed_dictionaries({"n_distractors": count, "distractor_seed": seed, "target": no_move}),
        st.fixed_dictionaries({"n_distractors": st.just(0), "distractor_seed": seed,
                               "target": jitter}),
    )


def _layout_identity(r: LayoutRanges) -> dict:
    return {"n_distractors": 0, "distractor_seed": 0,
            "target": {"jitter_m": r.jitter_m.identity, "jitter_angle_rad": 0.0,
                       "yaw_deg": r.yaw_deg.identity}}


# --- the registry of axes ----------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """An axis' name, its default ranges, its strategy and its clean parameters.

    Each axis writes its clean parameters the same way: a `_<axis>_identity(ranges)`
    next to its strategy, in which every band stands at its `identity` and every other
    parameter at the value that leaves the scene as it is (camera: all bands).
    `graded` is False where a level's parameters are unordered choices (which rewrite of
    the instruction): nearby parameters are unrelated scenes, so the search does not
    hill-climb on them.
    """

    name: str
    default_ranges: AxisRanges
    _strategy: Callable[[Any, int, float | None], st.SearchStrategy[dict]]
    _identity: Callable[[Any], dict]
    graded: bool = True

    def ranges(self, overrides: Mapping[str, Any] | None = None, where: str = "") -> AxisRanges:
        if not overrides:
            return self.default_ranges
        return self.default_ranges.merged(overrides, where or f"[axes.{self.name}]")

    def strategy(self, level: int, ranges: AxisRanges | None = None) -> st.SearchStrategy[dict]:
        if level not in LEVELS:
            raise UsageError(f"level must be one of {LEVELS}, got {level}")
        return self._strategy(ranges or self.default_ranges, level, None)

    def identity(self, ranges: AxisRanges | None = None) -> dict:
        return self._identity(ranges or self.default_ranges)

    def magnitude_strategy(self, ranges: AxisRanges | None = None
                           ) -> st.SearchStrategy[tuple[float, dict]]:
        """(m, params) over the whole axis, m on the MAGNITUDE_STEPS grid: what the
        breaking-point search explores. Drawn as the level, then the step within it, so
        Hypothesis shrinks m toward 0 (the identity) level by level, then within one."""
        r = ranges or self.default_ranges
        per_level = MAGNITUDE_STEPS // len(LEVELS)

        def in_level(level: int) -> st.SearchStrategy[tuple[float, dict]]:
            if level == 0:
                return st.just((0.0, self._identity(r)))
            return st.integers(1, per_level).flatmap(
                lambda j: self.at_magnitude(((level - 1) * per_level + j) / MAGNITUDE_STEPS,
                                            r).map(
                    lambda p: (((level - 1) * per_level + j) / MAGNITUDE_STEPS, p)))

        return st.integers(0, len(LEVELS)).flatmap(in_level)

    def at_magnitude(self, magnitude: float, ranges: AxisRanges | None = None
                     ) -> st.SearchStrategy[dict]:
        """The parameters at one magnitude m of the search's grid (0: the identity), the
        axis' other parameters free: what a uniform sampler of the search's space draws."""
        r = ranges or self.default_ranges
        steps = round(magnitude * MAGNITUDE_STEPS)
        if not 0 <= steps <= MAGNITUDE_STEPS:
            raise ValueError(f"a magnitude is in [0, 1], got {magnitude}")
        if steps == 0:
            return st.just(self._identity(r))
        per_level = MAGNITUDE_STEPS // len(LEVELS)
        level = -(-steps // per_level)
        return self._strategy(r, level, (steps - (level - 1) * per_level) / per_level)


AXIS_REGISTRY: dict[str, Axis] = {
    axis.name: axis
    for axis in (
        Axis("camera", CameraRanges(), _band_dict, _band_identity),
        Axis("robot_init", RobotInitRanges(), _robot_init_strategy, _robot_init_identity),
        Axis("language", LanguageRanges(), _language_strategy, _language_identity,
             graded=False),
        Axis("light", LightRanges(), _light_strategy, _light_identity),
        Axis("background", BackgroundRanges(), _background_strategy, _background_identity),
        Axis("noise", NoiseRanges(), _noise_strategy, _noise_identity),
        Axis("layout", LayoutRanges(), _layout_strategy, _layout_identity),
    )
}
assert tuple(AXIS_REGISTRY) == AXES


def get_axis(name: str) -> Axis:
    try:
        return AXIS_REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown axis {name!r}; the axes are {', '.join(AXES)}") from None
