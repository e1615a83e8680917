"""The built-in `robotwin_plus` suite: suites/robotwin_plus.toml's case grid on SAPIEN.

Importing this module imports no simulator: SAPIEN (and its Vulkan renderer) load when
the first env is built, inside the process (xdist worker) that runs the episode.
`--suite-arg render=0` runs physics only: the suite then declares no cameras.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.cases.observation_axes import with_observation_axes
from pytest_wamrobust.core.model import suite_args
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

#: The three cameras' size (`--suite-arg image_width=N` or the manifest); RoboTwin's own is 320x240.
IMAGE_WIDTH = suite_args.integer("image_width", 160, 16, 1024, "RoboTwin uses 320")
IMAGE_HEIGHT = suite_args.integer("image_height", 120, 16, 1024, "RoboTwin uses 240")
#: `--suite-arg render=0`: physics only, no cameras (no Vulkan device needed).
RENDER = suite_args.flag("render", True, "0 (physics only) or 1")


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
    declared_args = (IMAGE_WIDTH, IMAGE_HEIGHT, RENDER)

    def __init__(self, manifest: SuiteManifest, options: Mapping[str, str] | None = None) -> None:
        super().__init__(manifest, options)
        for task in manifest.tasks:
            if task.name not in TASKS:
                raise UsageError(f"{manifest.source}: task {task.name!r} is not a "
                                 f"robotwin_plus task; known: {', '.join(TASKS)}")
        self.render: bool = self.options["render"]
        self.env_spec = env_spec(self.options["image_width"], self.options["image_height"],
                                 self.render)

    def make_env(self, spec: EpisodeSpec) -> Env:
        return with_observation_axes(RobotwinEnv(spec, self.env_spec, self.render), spec)


def make_suite(manifest: SuiteManifest | None = None,
               options: Mapping[str, str] | None = None) -> RobotwinSuite:
    """The `robotwin_plus` entry point; `options` are the `--suite-arg`s, and tests pass
    their own manifest."""
    return RobotwinSuite(manifest or SuiteManifest.packaged("robotwin_plus"), options)
