"""The built-in `robotwin_plus` suite: suites/robotwin_plus.toml's case grid on SAPIEN.

Importing this module imports no simulator: SAPIEN (and its Vulkan renderer) load when
the first env is built, inside the process (xdist worker) that runs the episode.
`WAMROBUST_SAPIEN_RENDER=0` runs physics only: the suite then declares no cameras.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pytest_wamrobust.core.cases.manifest import GridSuite, SuiteManifest
from pytest_wamrobust.core.cases.observation_axes import with_observation_axes
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import Env
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, EpisodeSpec
from pytest_wamrobust.sims.robotwin.env import (
    ACTION_SEMANTICS,
    CONTROL_HZ,
    STATE_SEMANTICS,
    RobotwinEnv,
)
from pytest_wamrobust.sims.robotwin.tasks import TASKS

KNOWN_SETTINGS = ("image_width", "image_height", "render")


def _settings(settings: Mapping[str, Any], source: str) -> tuple[int, int, bool]:
    unknown = sorted(set(settings) - set(KNOWN_SETTINGS))
    if unknown:
        raise UsageError(f"{source} [suite.settings]: unknown keys {unknown}; "
                         f"robotwin_plus accepts {list(KNOWN_SETTINGS)}")
    width, height = settings.get("image_width", 160), settings.get("image_height", 120)
    for name, value in (("image_width", width), ("image_height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= 1024:
            raise UsageError(f"{source} [suite.settings] {name} must be an integer from 16 to 1024 "
                             f"(RoboTwin uses 320x240), got {value!r}")
    render = settings.get("render", True)
    env = os.environ.get("WAMROBUST_SAPIEN_RENDER")
    if env is not None:
        if env not in ("0", "1"):
            raise UsageError(f"WAMROBUST_SAPIEN_RENDER must be 0 (physics only) or 1, got {env!r}")
        render = env == "1"
    return width, height, bool(render)


def env_spec(width: int, height: int, render: bool) -> EnvSpec:
    cameras = (
        CameraSpec("head", height, width, "third_person"),
        CameraSpec("left_wrist", height, width, "wrist"),
        CameraSpec("right_wrist", height, width, "wrist"),
    ) if render else ()
    return EnvSpec(suite="robotwin_plus", cameras=cameras, state_dim=20, action_dim=10,
                   control_hz=CONTROL_HZ, action_semantics=ACTION_SEMANTICS,
                   state_semantics=STATE_SEMANTICS)


class RobotwinSuite(GridSuite):
    def __init__(self, manifest: SuiteManifest) -> None:
        super().__init__(manifest)
        for task in manifest.tasks:
            if task.name not in TASKS:
                raise UsageError(f"{manifest.source}: task {task.name!r} is not a "
                                 f"robotwin_plus task; known: {', '.join(TASKS)}")
        width, height, self.render = _settings(manifest.settings, manifest.source)
        self.env_spec = env_spec(width, height, self.render)

    def make_env(self, spec: EpisodeSpec) -> Env:
        return with_observation_axes(RobotwinEnv(spec, self.env_spec, self.render), spec)


def make_suite(manifest: SuiteManifest | None = None) -> RobotwinSuite:
    """The `robotwin_plus` entry point; tests pass their own manifest."""
    return RobotwinSuite(manifest or SuiteManifest.packaged("robotwin_plus"))
