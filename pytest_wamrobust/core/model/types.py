"""The data that flows through one episode: specs in, observations and chunks, results out.

Everything here is plain data (numpy arrays, strings, numbers) so it can cross process
boundaries (xdist workers, policy servers) and be written to JUnit properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads with the first episode, not with the plugin
    import numpy as np

#: The perturbation axes of the study, in the order of its tables.
AXES: tuple[str, ...] = (
    "camera",
    "robot_init",
    "language",
    "light",
    "background",
    "noise",
    "layout",
)
#: The unperturbed control setting; always level 0.
CLEAN = "clean"
#: Every setting a case can have, clean first (the order of the robustness table).
SETTINGS: tuple[str, ...] = (CLEAN, *AXES)
#: Difficulty levels of the perturbed axes.
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
#: The breaking-point search's grid of magnitudes m = k / MAGNITUDE_STEPS in [0, 1] (0
#: clean, level L the L-th fifth), so a shrunk m reads 0.37, not 0.3700000001.
MAGNITUDE_STEPS = 100


def level_of(magnitude: float) -> int:
    """The level a magnitude in [0, 1] falls in: 0 at 0, then its fifth (a fifth's far
    edge belongs to it: m = 0.2 is level 1)."""
    if not 0.0 <= magnitude <= 1.0:
        raise ValueError(f"a magnitude is in [0, 1], got {magnitude}")
    return -(-round(magnitude * MAGNITUDE_STEPS) * len(LEVELS) // MAGNITUDE_STEPS)


def replay_level(magnitude: float) -> int:
    """A replayed failure's level: the level m falls in, m = 0 (the axis' identity: the
    scene failed unperturbed) counting as level 1, since an axis' cases have levels 1-5."""
    return max(1, level_of(magnitude))


@dataclass(frozen=True)
class CameraSpec:
    """One RGB camera of a suite; `role` is "third_person" or "wrist"."""

    name: str
    height: int
    width: int
    role: str = "third_person"


@dataclass(frozen=True)
class EnvSpec:
    """What a policy can expect from a suite: its inputs and the action it must produce.

    Actions are normalised to [-1, 1] per dimension; `action_semantics` says what each
    dimension means (e.g. "delta_eef_pos_xyz(3) delta_eef_axis_angle(3) gripper(1)").
    """

    suite: str
    cameras: tuple[CameraSpec, ...]
    state_dim: int
    action_dim: int
    control_hz: float
    action_semantics: str = ""
    state_semantics: str = ""

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    @property
    def third_person_camera(self) -> str:
        """The camera image corruptions apply to (the study corrupts only this one)."""
        for camera in self.cameras:
            if camera.role == "third_person":
                return camera.name
        return self.cameras[0].name


@dataclass
class Observation:
    """What a policy sees at one step.

    `images` maps camera name -> uint8 array (H, W, 3). `privileged` holds simulator
    state (object poses, joint positions) for oracle policies only; learned policies
    must ignore it. It never contains perturbation parameters.
    """

    images: dict[str, np.ndarray]
    state: np.ndarray
    instruction: str
    privileged: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyMetadata:
    """How the episode runner drives a policy.

    `chunk_length` actions come back from each `infer`; the runner executes the first
    `replan_steps` of them before asking again (openpi's LIBERO client uses 5).
    `family` is "vla", "wam", "oracle" or "baseline" - reports group by it.
    """

    name: str
    chunk_length: int
    replan_steps: int
    family: str = "vla"
    privileged: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.replan_steps <= self.chunk_length:
            raise ValueError(
                f"policy {self.name!r}: replan_steps={self.replan_steps} must be in "
                f"1..chunk_length={self.chunk_length}"
            )


@dataclass(frozen=True)
class TaskSpec:
    """One task of a suite: its instruction, step limit and instruction rewrites.

    `rewrites` maps a rewrite kind (paraphrase, synonyms, distractor, constraint ...)
    to alternative instructions that keep the goal; the language axis picks from it.
    """

    name: str
    instruction: str
    max_steps: int
    rewrites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group: str = ""


@dataclass(frozen=True, order=True)
class CaseKey:
    """The identity of one test case; everything random about it derives from this."""

    suite: str
    task: str
    setting: str
    level: int
    seed_index: int
    #: a stored failure replayed (`--wam-replay`): `m0.23/<hash>`; its parameters are
    #: stored, not drawn from the key (core.search.replay); level is `replay_level(m)`
    replay: str = ""

    @property
    def case_id(self) -> str:
        """Reads like `tabletop/pick_cube/camera/L3/s07`, a replay like
        `tabletop/lift_cube/light/m0.23/<hash>`; also the pytest parameter id."""
        if self.replay:
            return f"{self.suite}/{self.task}/{self.setting}/{self.replay}"
        return f"{self.suite}/{self.task}/{self.setting}/L{self.level}/s{self.seed_index:02d}"

    @classmethod
    def parse(cls, case_id: str) -> CaseKey | None:
        """Inverse of `case_id` (None if `case_id` is not one)."""
        match = _CASE_ID.match(case_id)
        if match:
            return cls(match["suite"], match["task"], match["setting"], int(match["level"]),
                       int(match["seed"]))
        match = _REPLAY_ID.match(case_id)
        if match and float(match["m"]) <= 1.0:
            replay = f"m{match['m']}/{match['hash']}"
            return cls(match["suite"], match["task"], match["setting"],
                       replay_level(float(match["m"])), 0, replay)
        return None


_CASE_ID = re.compile(
    r"^(?P<suite>[^/]+)/(?P<task>.+)/(?P<setting>[^/]+)/L(?P<level>\d+)/s(?P<seed>\d+)$")
_REPLAY_ID = re.compile(
    r"^(?P<suite>[^/]+)/(?P<task>.+)/(?P<setting>[^/]+)/m(?P<m>[01]\.\d\d)/(?P<hash>[0-9a-f]{10})$")


@dataclass(frozen=True)
class EpisodeSpec:
    """Everything needed to build and run one episode, fully determined by its CaseKey.

    `params` are the concrete perturbation parameters drawn for this case (empty for
    clean); `episode_seed` seeds the task's own randomness (object placement) and the
    policy's sampling.
    """

    key: CaseKey
    task: TaskSpec
    params: Mapping[str, Any]
    episode_seed: int

    @property
    def case_id(self) -> str:
        return self.key.case_id

    @property
    def setting(self) -> str:
        return self.key.setting

    @property
    def level(self) -> int:
        return self.key.level

    @property
    def max_steps(self) -> int:
        return self.task.max_steps

    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True, default=_json_default)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
