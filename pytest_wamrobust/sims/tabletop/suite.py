"""The built-in `tabletop` suite: suites/tabletop.toml's case grid on the MuJoCo tabletop.

Importing this module imports no simulator: MuJoCo loads when the first env is built,
inside the process (xdist worker) that runs the episode.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.cases.observation_axes import with_observation_axes
from pytest_wamrobust.core.model import suite_args
from pytest_wamrobust.core.model.protocols import Env
from pytest_wamrobust.core.model.types import EpisodeSpec
from pytest_wamrobust.sims.tabletop.env import TabletopEnv, env_spec
from pytest_wamrobust.sims.tabletop.tasks import get_task

#: `--suite-arg image_size=N` (or `image_size` in the manifest): every camera's pixels.
IMAGE_SIZE = suite_args.integer("image_size", 128, 32, 1024, "e.g. 128 or 256")


class TabletopSuite(GridSuite):
    declared_args = (IMAGE_SIZE,)

    def __init__(self, manifest: SuiteManifest, options: Mapping[str, str] | None = None) -> None:
        super().__init__(manifest, options)
        self.image_size: int = self.options["image_size"]
        for task in manifest.tasks:
            get_task(task.name)
        self.env_spec = env_spec(self.image_size)

    def make_env(self, spec: EpisodeSpec) -> Env:
        return with_observation_axes(TabletopEnv(spec, self.image_size), spec)


def make_suite(manifest: SuiteManifest | None = None,
               options: Mapping[str, str] | None = None) -> TabletopSuite:
    """The `tabletop` entry point; `options` are the `--suite-arg`s, and tests pass their
    own manifest."""
    return TabletopSuite(manifest or SuiteManifest.packaged("tabletop"), options)
