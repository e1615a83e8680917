"""One LIBERO-Plus variant behind the core `Env` protocol, run by the standard protocol.

This is the only module that imports LIBERO (robosuite, mujoco, torch); it is imported
by `suite.make_env`, i.e. inside the process that runs the episode, so each xdist
worker creates its own rendering context.

Differences from upstream's evaluation loop, each deliberate:
- robot-init variants really start from their perturbed joints: upstream's
  `set_init_state` overwrites them with the recorded LIBERO state (bug 1), so the
  variant's joints are written back after it;
- the prompt is the task's instruction (`Catalog.instruction`), never the variant
  name (bug 2);
- cameras render only when the policy looks (`observe`), not on every physics step;
  the noise corruption upstream applies inside `step` is applied here to the same
  third-person image with upstream's own functions, and their global numpy RNG is
  seeded per episode so a noise variant is the same on every run.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import (
    INVALID_ACTION,
    CaseUnavailableError,
    EpisodeError,
    UsageError,
)
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, EpisodeSpec, Observation
from pytest_wamrobust.sims.libero_plus import protocol
from pytest_wamrobust.sims.libero_plus.variants import Catalog, Variant
from pytest_wamrobust.sims.libero_plus.world import WorldReader

ASSET_HINT = (
    "download assets.zip from https://huggingface.co/datasets/Sylvest/LIBERO-plus, "
    "extract it and run `bash scripts/install_libero_plus.sh --assets DIR` "
    "(DIR: the extracted folder holding scenes/)"
)

@cache
def env_spec() -> EnvSpec:
    """What a policy sees of LIBERO-Plus: fixed by the benchmark (two 256 px cameras,
    openpi's 8-d state, OSC_POSE actions), so unlike tabletop's and robotwin's
    `env_spec(...)` it takes no settings."""
    return EnvSpec(
        suite="libero_plus",
        cameras=(
            CameraSpec(protocol.AGENTVIEW, protocol.RESOLUTION, protocol.RESOLUTION,
                       "third_person"),
            CameraSpec(protocol.WRIST, protocol.RESOLUTION, protocol.RESOLUTION, "wrist"),
        ),
        state_dim=8,
        action_dim=protocol.ACTION_DIM,
        control_hz=protocol.CONTROL_HZ,
        action_semantics=(
            "delta_eef_pos_xyz(3) delta_eef_axis_angle(3) gripper(1, -1 open +1 close); "
            "LIBERO OSC_POSE"
        ),
        state_semantics="eef_pos(3) eef_axis_angle(3) gripper_qpos(2); openpi LIBERO client",
    )


_IMAGE_KEYS = {name: f"{name}_image" for name in env_spec().camera_names}


def _configure_libero() -> None:
    """Point LIBERO at the config the install script wrote, before it is imported;
    MuJoCo renders offscreen through EGL unless the user chose otherwise."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
    config = Path(sys.prefix) / "liberoplus-config"
    if "LIBERO_CONFIG_PATH" not in os.environ and config.is_dir():
        os.environ["LIBERO_CONFIG_PATH"] = str(config)


_MUJOCO_MISSING = re.compile(r"Error opening file '([^']+)'")


def _missing_file(exc: Exception) -> Path | None:
    """The file a failed scene build could not open: robosuite raises FileNotFoundError
    for scene XMLs, MuJoCo a ValueError naming textures and meshes."""
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return Path(exc.filename)
    match = _MUJOCO_MISSING.search(str(exc))
    return Path(match.group(1)) if match else None


def _corruption(name: str) -> Callable[..., Any]:
    from liberoplus.liberoplus.envs import env_wrapper

    return getattr(env_wrapper, name)


class LiberoPlusEnv:
    """A built LIBERO-Plus scene for one variant; `reset` runs the standard protocol."""

    spec = env_spec()

    def __init__(self, catalog: Catalog, variant: Variant, episode: EpisodeSpec,
                 init_state_index: int = protocol.INIT_STATE_INDEX) -> None:
        """`init_state_index` other than the protocol's 0 starts from another of LIBERO's
        recorded scenes (benchmarks over several scenes per task; never a case)."""
        self.variant = variant
        self.episode = episode
        self.instruction = catalog.instruction(variant)
        self._init_state = catalog.init_state(variant, init_state_index)
        self._assets = catalog.assets_dir()
        self._noise = variant.params if variant.setting == "noise" else None
        _configure_libero()
        try:
            from liberoplus.liberoplus.envs import OffScreenRenderEnv
        except ImportError as exc:
            raise UsageError(f"libero_plus: cannot import LIBERO ({exc}); "
                             "re-run `bash scripts/install_libero_plus.sh`") from None
        try:
            self._env = OffScreenRenderEnv(
                bddl_file_name=str(catalog.bddl_path(variant)),
                camera_heights=protocol.RESOLUTION,
                camera_widths=protocol.RESOLUTION,
            )
        except (FileNotFoundError, ValueError) as exc:
            missing = _missing_file(exc)
            if missing is None:
                raise
            raise self._missing(missing) from None
        # Upstream corrupts inside step(); we corrupt in observe() instead (see module doc).
        self._env.noise = 0

    def _missing(self, missing: Path) -> Exception:
        try:  # resolved: LIBERO names files by its real path, the venv may be a link
            relative = missing.resolve().relative_to(self._assets.resolve())
        except ValueError:
            return UsageError(f"libero_plus: {self.variant.name} needs {missing}, which is "
                              "missing; re-run `bash scripts/install_libero_plus.sh`")
        return CaseUnavailableError(
            f"libero_plus: {self.variant.setting} variant {self.variant.name} needs "
            f"assets/{relative}, which the PyPI assets lack; {ASSET_HINT}"
        )

    # --- Env protocol -----------------------------------------------------------------

    def reset(self) -> Observation:
        np.random.seed(protocol.ENV_SEED)
        env = self._env
        env.seed(protocol.ENV_SEED)
        env.reset()
        env.set_init_state(self._init_state)
        if self.variant.setting == "robot_init":
            self._restore_perturbed_joints()
        self._set_cameras_enabled(False)
        self._world = WorldReader(self._env.env)
        for _ in range(protocol.NUM_SETTLE_STEPS):
            self.step(protocol.NOOP_ACTION)
        return self.observe()

    def _restore_perturbed_joints(self) -> None:
        """Bug 1: write the variant's init joints back over the recorded LIBERO state."""
        env = self._env
        robot = env.robots[0]
        sim = env.sim
        sim.data.qpos[robot._ref_joint_pos_indexes] = np.asarray(robot.init_qpos)
        sim.data.qvel[robot._ref_joint_vel_indexes] = 0.0
        env.regenerate_obs_from_state(env.get_sim_state())
        if hasattr(robot.controller, "reset_goal"):
            robot.controller.update(force=True)
            robot.controller.reset_goal()

    def step(self, action: np.ndarray) -> None:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (protocol.ACTION_DIM,):
            raise EpisodeError(INVALID_ACTION,
                               f"libero_plus expects 7-dim actions, got shape {action.shape}")
        self._env.step(action.tolist())

    def observe(self) -> Observation:
        self._set_cameras_enabled(True)
        obs = self._env.env._get_observations(force_update=True)
        self._set_cameras_enabled(False)
        images = {name: np.ascontiguousarray(obs[key]) for name, key in _IMAGE_KEYS.items()}
        if self._noise is not None:
            images[protocol.AGENTVIEW] = self._corrupt(images[protocol.AGENTVIEW], self._noise)
        return Observation(
            images=images,
            state=protocol.state_from_obs(obs),
            instruction=self.instruction,
            privileged=self.world_state(),
        )

    def world_state(self) -> dict[str, Any]:
        """What a privileged oracle reads (`world`): poses, extents, joints, BDDL goal."""
        return self._world.read()

    def _corrupt(self, image: np.ndarray, noise: Mapping[str, Any]) -> np.ndarray:
        from PIL import Image

        corrupt = _corruption(noise["corruption"])
        out = corrupt(Image.fromarray(image), severity=noise["severity"])
        return np.asarray(out).astype(np.uint8)

    def success(self) -> bool:
        return bool(self._env.check_success())

    def close(self) -> None:
        env = getattr(self, "_env", None)
        if env is not None:
            env.close()
            self._env = None

    def _set_cameras_enabled(self, enabled: bool) -> None:
        for key in _IMAGE_KEYS.values():
            self._env.env.modify_observable(key, "enabled", enabled)
