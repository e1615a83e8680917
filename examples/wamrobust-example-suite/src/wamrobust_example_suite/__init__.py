"""`reach2d`: a third-party suite for pytest-wamrobust, complete in one module.

A flat "hand" (white square) must reach the dot of the colour its instruction names,
on a 1 m x 1 m table seen from above. Everything a suite needs is here:

- the manifest `reach2d.toml` (tasks, rewrites, default levels/seeds/thresholds, the
  axis ranges that differ), loaded into `GridSuite`, which lists the case grid and
  draws each case's parameters from its key;
- `Reach2DEnv`, the `Env` protocol: the scene-side axes (camera, robot_init, light,
  background, layout) applied here, noise and language by `with_observation_axes`;
- `make_suite(options)`, the entry point, which passes the `--suite-arg`s to the suite:
  it declares the one it reads, `image_size`, and GridSuite checks them;
- `make_oracle(ctx)`, the `--policy=scripted` of this suite (it reads
  `Observation.privileged`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources

import numpy as np

from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.cases.observation_axes import with_observation_axes
from pytest_wamrobust.core.cases.seeding import rng_for
from pytest_wamrobust.core.model import suite_args
from pytest_wamrobust.core.model.protocols import Env, PolicyContext
from pytest_wamrobust.core.model.types import (
    CameraSpec,
    EnvSpec,
    EpisodeSpec,
    Observation,
    PolicyMetadata,
)

CAMERA = "top"
STEP_M = 0.05  # an action of 1.0 moves the hand 5 cm
REACHED_M = 0.04
COLOURS = {"reach_red": (220, 40, 40), "reach_blue": (40, 70, 220)}
#: `--suite-arg image_size=N`: the camera's pixels.
IMAGE_SIZE = suite_args.integer("image_size", 64, 16, 512)


def env_spec(image_size: int) -> EnvSpec:
    return EnvSpec("reach2d", (CameraSpec(CAMERA, image_size, image_size),), state_dim=2,
                   action_dim=2, control_hz=10.0, action_semantics="delta_xy(2, x0.05 m)",
                   state_semantics="hand_xy(2) in metres, table centre at 0")


class Reach2DEnv:
    def __init__(self, spec: EpisodeSpec, image_size: int) -> None:
        self.spec = env_spec(image_size)
        self.size = image_size
        self.instruction = spec.task.instruction  # the language axis rewrites it on top
        axis, p = spec.setting, spec.params
        # The clean scene comes from the episode seed alone (the same for every axis).
        rng = rng_for(spec.episode_seed)
        self.goal = rng.uniform(-0.35, 0.35, 2)
        self.other = rng.uniform(-0.35, 0.35, 2)
        self.start = rng.uniform(-0.35, 0.35, 2)
        self.colour = np.array(COLOURS[spec.task.name], float)
        self.other_colour = np.array(COLOURS[next(t for t in COLOURS if t != spec.task.name)],
                                     float)
        self.background = np.array((90.0, 110.0, 90.0))
        self.gain, self.tint = 1.0, np.zeros(3)
        self.view_shift = np.zeros(2)
        self.distractors = np.zeros((0, 2))
        if axis == "camera":  # the camera slides and the table looks nearer or farther
            self.view_shift = np.array((p["orbit_deg"], p["elevation_deg"])) / 75.0 * 0.25
        elif axis == "robot_init":
            self.start = self.start + 0.3 * np.array(p["joint_offsets"][:2])
        elif axis == "light":
            self.gain = 2.0 ** float(p["intensity_log2"])
            self.tint = 60.0 * np.array(p["tint"])
        elif axis == "background":
            self.background = self.background + 120.0 * float(p["table"]["shift"]) * np.array(
                p["table"]["direction"])
        elif axis == "layout":
            jitter, angle = float(p["target"]["jitter_m"]), float(p["target"]["jitter_angle_rad"])
            self.goal = self.goal + jitter * np.array((math.cos(angle), math.sin(angle)))
            self.distractors = rng_for(int(p["distractor_seed"])).uniform(
                -0.4, 0.4, (int(p["n_distractors"]), 2))
        self.goal = np.clip(self.goal, -0.45, 0.45)
        self.hand = self.start.copy()

    def reset(self) -> Observation:
        self.hand = np.clip(self.start, -0.5, 0.5)
        return self.observe()

    def step(self, action: np.ndarray) -> None:
        self.hand = np.clip(self.hand + STEP_M * np.clip(action[:2], -1, 1), -0.5, 0.5)

    def observe(self) -> Observation:
        return Observation(images={CAMERA: self._render()}, state=self.hand.copy(),
                           instruction=self.instruction, privileged={"hand": self.hand.copy(),
                                                       "goal": self.goal.copy()})

    def success(self) -> bool:
        return bool(np.linalg.norm(self.hand - self.goal) < REACHED_M)

    def close(self) -> None:
        pass

    def _render(self) -> np.ndarray:
        n = self.size
        ys, xs = np.mgrid[0:n, 0:n]
        world = np.stack(((xs + 0.5) / n - 0.5, 0.5 - (ys + 0.5) / n), -1) + self.view_shift
        image = np.broadcast_to(self.background, (n, n, 3)).copy()
        for where, colour, radius in [*((d, (128.0, 128.0, 128.0), 0.04)
                                        for d in self.distractors),
                                      (self.other, self.other_colour, 0.04),
                                      (self.goal, self.colour, 0.04)]:
            image[np.linalg.norm(world - where, axis=-1) < radius] = colour
        image[np.abs(world - self.hand).max(axis=-1) < 0.025] = (255.0, 255.0, 255.0)
        return np.clip(image * self.gain + self.tint, 0, 255).astype(np.uint8)


class Reach2DSuite(GridSuite):
    """The case grid, parameter draws and option checks come from GridSuite; this
    builds scenes."""

    declared_args = (IMAGE_SIZE,)

    def __init__(self, manifest: SuiteManifest, options: Mapping[str, str] | None = None) -> None:
        super().__init__(manifest, options)
        self.image_size: int = self.options["image_size"]
        self.env_spec = env_spec(self.image_size)

    def make_env(self, spec: EpisodeSpec) -> Env:
        return with_observation_axes(Reach2DEnv(spec, self.image_size), spec)


def make_suite(options: Mapping[str, str] | None = None) -> Reach2DSuite:
    """The `reach2d` entry point; `options` are the `--suite-arg KEY=VALUE`s."""
    with resources.as_file(resources.files(__name__).joinpath("reach2d.toml")) as path:
        manifest = SuiteManifest.load(path)
    return Reach2DSuite(manifest, options)


class Reach2DOracle:
    """Heads straight for the goal it reads from the simulator state."""

    def __init__(self) -> None:
        self.metadata = PolicyMetadata("reach2d-oracle", chunk_length=1, replan_steps=1,
                                       family="oracle", privileged=True)

    def reset(self, task: str, seed: int) -> None:
        pass

    def infer(self, observation: Observation) -> np.ndarray:
        delta = observation.privileged["goal"] - observation.privileged["hand"]
        return np.clip(delta / STEP_M, -1.0, 1.0)[None, :]


def make_oracle(ctx: PolicyContext) -> Reach2DOracle:
    return Reach2DOracle()
