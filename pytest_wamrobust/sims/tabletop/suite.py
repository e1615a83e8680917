"""The built-in `tabletop` suite: suites/tabletop.toml's case grid on the MuJoCo tabletop.

Importing this module imports no simulator: MuJoCo loads when the first env is built,
inside the process (xdist worker) that runs the episode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_wamrobust.core.cases.manifest import GridSuite, SuiteManifest
from pytest_wamrobust.core.cases.observation_axes import with_observation_axes
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import Env
from pytest_wamrobust.core.model.types import EpisodeSpec
from pytest_wamrobust.sims.tabletop.env import TabletopEnv, env_spec
from pytest_wamrobust.sims.tabletop.tasks import get_task

IMAGE_SIZES = range(32, 1025)
KNOWN_SETTINGS = ("image_size",)


def image_size_setting(settings: Mapping[str, Any], source: str) -> int:
    """`[suite.settings] image_size`, checked: an integer number of pixels, 32-1024."""
    unknown = sorted(set(settings) - set(KNOWN_SETTINGS))
    if unknown:
        raise UsageError(f"{source} [suite.settings]: unknown keys {unknown}; "
                         f"tabletop accepts {list(KNOWN_SETTINGS)}")
    size = settings.get("image_size", 128)
    if isinstance(size, bool) or not isinstance(size, int) or size not in IMAGE_SIZES:
        raise UsageError(
            f"{source} [suite.settings] image_size must be an integer from 32 to 1024 "
            f"(e.g. 128 or 256), got {size!r}"
        )
    return size


class TabletopSuite(GridSuite):
    def __init__(self, manifest: SuiteManifest) -> None:
        super().__init__(manifest)
        self.image_size = image_size_setting(manifest.settings, manifest.source)
        for task in manifest.tasks:
            get_task(task.name)
        self.env_spec = env_spec(self.image_size)

    def make_env(self, spec: EpisodeSpec) -> Env:
        return with_observation_axes(TabletopEnv(spec, self.image_size), spec)


def make_suite(manifest: SuiteManifest | None = None) -> TabletopSuite:
    """The `tabletop` entry point; tests pass their own manifest."""
    return TabletopSuite(manifest or SuiteManifest.packaged("tabletop"))
