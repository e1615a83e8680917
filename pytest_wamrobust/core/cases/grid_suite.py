"""The case grid most suites share: tasks x (clean + seven axes) x levels x seeds.

`GridSuite` turns a manifest (core/cases/manifest.py) into that matrix and draws each
case's parameters from its key; a simulator backend subclasses it, declares its
options and only builds scenes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_wamrobust.core.cases import sampling, seeding
from pytest_wamrobust.core.cases.axes import get_axis
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model import suite_args
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, Env
from pytest_wamrobust.core.model.suite_args import SuiteArg
from pytest_wamrobust.core.model.types import (
    CLEAN,
    SETTINGS,
    CaseKey,
    EnvSpec,
    EpisodeSpec,
    TaskSpec,
)


class GridSuite:
    """Tasks x (clean + seven axes) x levels x seeds, parameters drawn per case.

    Clean runs `seeds x len(levels)` scenes so its row has as many episodes as each
    axis row; axis case `s<j>` starts from the same scene as clean `s<j>`.
    Subclasses set `env_spec`, implement `make_env` and declare the options they read
    in `declared_args`; `self.options` holds their values, the manifest's
    `[suite.options]` overridden by the run's `--suite-arg`s.
    """

    env_spec: EnvSpec
    declared_args: tuple[SuiteArg, ...] = ()

    def __init__(self, manifest: SuiteManifest, options: Mapping[str, str] | None = None) -> None:
        self.manifest = manifest
        self.name = manifest.name
        self.options = suite_args.read(self.name, self.declared_args, options, manifest.options,
                                       f"{manifest.source} [suite.options]")

    def tasks(self) -> Sequence[TaskSpec]:
        return self.manifest.tasks

    def cases(self, selection: CaseSelection) -> Iterable[CaseKey]:
        tasks, settings, levels, seeds = self._matrix(selection)
        for task in tasks:
            for setting in settings:
                if setting == CLEAN:
                    for j in range(seeds * len(levels)):
                        yield CaseKey(self.name, task, CLEAN, 0, j)
                    continue
                for level in levels:
                    for j in range(seeds):
                        yield CaseKey(self.name, task, setting, level, j)

    def case_count(self, selection: CaseSelection) -> int:
        """tasks x settings x levels x seeds, without listing the cases."""
        tasks, settings, levels, seeds = self._matrix(selection)
        return len(tasks) * len(settings) * len(levels) * seeds

    def _matrix(self, selection: CaseSelection) -> tuple[list[str], list[str], list[int], int]:
        """The selection's tasks (checked), settings in canonical order, levels, seeds."""
        tasks = [self.manifest.task(t).name for t in selection.tasks] if selection.tasks else [
            t.name for t in self.manifest.tasks]
        settings = list(selection.settings) if selection.settings else list(SETTINGS)
        unknown = [s for s in settings if s not in SETTINGS]
        if unknown:
            raise UsageError(f"{self.name}: unknown setting {unknown[0]!r}; choose from "
                             f"{', '.join(SETTINGS)}")
        levels = sorted(selection.levels or self.manifest.default_levels)
        seeds = selection.seeds if selection.seeds is not None else self.manifest.default_seeds
        return tasks, [s for s in SETTINGS if s in settings], levels, seeds

    def episode_spec(self, key: CaseKey) -> EpisodeSpec:
        task = self.manifest.task(key.task)
        if key.setting == CLEAN:
            params: Mapping[str, Any] = {}
        else:
            axis = get_axis(key.setting)
            ranges = self.manifest.axis_ranges[key.setting]
            if key.level == 0:
                params = axis.identity(ranges)
            else:
                params = sampling.draw(axis.strategy(key.level, ranges),
                                       seeding.derive_seed(key, "params"))
        return EpisodeSpec(key=key, task=task, params=params,
                           episode_seed=seeding.episode_seed(key))

    def make_env(self, spec: EpisodeSpec) -> Env:  # pragma: no cover - abstract
        raise NotImplementedError
