"""Suite manifests (suites/<name>.toml): a suite's data.

A manifest holds tasks with instructions, rewrite banks and step limits; the axis
ranges that differ from the core defaults; default levels, seeds and thresholds.
`GridSuite` (core/cases/grid_suite.py) turns it into the case grid.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_wamrobust.core.cases.axes import LEVELS, AxisRanges, LanguageRanges, get_axis
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import AXES, TaskSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the tomli backport, a dependency there
    import tomli as tomllib


@dataclass(frozen=True)
class SuiteManifest:
    name: str
    description: str
    tasks: tuple[TaskSpec, ...]
    axis_ranges: Mapping[str, AxisRanges]
    default_levels: tuple[int, ...] = (1, 3, 5)
    default_seeds: int = 1
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    #: `[suite.options]`: the manifest's values of the options its suite declares (a
    #: run's `--suite-arg`s override them); not settings, which are clean and the axes
    options: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def load(cls, path: str | Path) -> SuiteManifest:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"suite manifest not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"suite manifest {path} is not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def packaged(cls, name: str) -> SuiteManifest:
        """The manifest shipped in the package (top-level `suites/` in the source tree)."""
        resource = _packaged_suites_dir().joinpath(f"{name}.toml")
        if not resource.is_file():
            raise UsageError(f"no packaged manifest suites/{name}.toml")
        with resources.as_file(resource) as path:
            return cls.load(path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> SuiteManifest:
        where = source
        suite = _table(data, "suite", where)
        name = _required(suite, "name", str, f"{where} [suite]")
        tasks = tuple(_parse_task(t, f"{where} [[tasks]] #{i + 1}")
                      for i, t in enumerate(_list(data, "tasks", where)))
        if not tasks:
            raise UsageError(f"{where}: a suite needs at least one [[tasks]] entry")
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise UsageError(f"{where}: duplicate task names in {names}")
        axes_table = data.get("axes", {})
        unknown_axes = set(axes_table) - set(AXES)
        if unknown_axes:
            raise UsageError(f"{where} [axes]: unknown axes {sorted(unknown_axes)}; "
                             f"known: {', '.join(AXES)}")
        axis_ranges = {
            axis: get_axis(axis).ranges(axes_table.get(axis), f"{where} [axes.{axis}]")
            for axis in AXES
        }
        levels = tuple(int(x) for x in suite.get("default_levels", (1, 3, 5)))
        if not set(levels) <= set(LEVELS):
            raise UsageError(f"{where} [suite] default_levels must be within {LEVELS}")
        manifest = cls(
            name=name,
            description=str(suite.get("description", "")),
            tasks=tasks,
            axis_ranges=axis_ranges,
            default_levels=levels,
            default_seeds=int(suite.get("default_seeds", 1)),
            thresholds=dict(data.get("thresholds", {})),
            options=_suite_options(suite, where),
            source=source,
        )
        manifest._check_rewrites()
        return manifest

    def _check_rewrites(self) -> None:
        """Every rewrite kind the language axis can draw must exist for every task."""
        ranges = self.axis_ranges["language"]
        assert isinstance(ranges, LanguageRanges)  # get_axis("language") built it
        kinds = {k for level_kinds in ranges.kinds_by_level for k in level_kinds}
        for task in self.tasks:
            missing = sorted(k for k in kinds if not task.rewrites.get(k))
            if missing:
                raise UsageError(
                    f"{self.source}: task {task.name!r} has no language rewrites of kind "
                    f"{missing}; add them under [tasks.rewrites]"
                )

    def task(self, name: str) -> TaskSpec:
        for task in self.tasks:
            if task.name == name:
                return task
        raise UsageError(
            f"unknown task {name!r} in suite {self.name!r}; "
            f"tasks: {', '.join(t.name for t in self.tasks)}"
        )


def _packaged_suites_dir() -> Any:
    """`suites/` is installed as `pytest_wamrobust.suites`; a source checkout that sits
    first on sys.path (python run from the repo root) shadows that mapping, so fall
    back to the folder next to the package."""
    try:
        return resources.files("pytest_wamrobust.suites")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "suites"


def _suite_options(suite: Mapping[str, Any], where: str) -> dict[str, Any]:
    """`[suite.options]`; a manifest written before the rename says `[suite.settings]`,
    which is still read."""
    if "options" in suite and "settings" in suite:
        raise UsageError(f"{where}: both [suite.options] and [suite.settings], its old name; "
                         f"keep [suite.options]")
    return dict(suite.get("options", suite.get("settings", {})))


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: missing [{key}] table")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise UsageError(f"{where}: [[{key}]] must be an array of tables")
    return value


def _required(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise UsageError(f"{where}: '{key}' is required and must be a {kind.__name__}")
    return value


def _parse_task(data: Mapping[str, Any], where: str) -> TaskSpec:
    name = _required(data, "name", str, where)
    where = f"{where} ({name})"
    instruction = _required(data, "instruction", str, where)
    max_steps = _required(data, "max_steps", int, where)
    rewrites_raw = data.get("rewrites", {})
    if not isinstance(rewrites_raw, Mapping):
        raise UsageError(f"{where}: rewrites must be a table of lists")
    rewrites = {}
    for kind, bank in rewrites_raw.items():
        if not isinstance(bank, list) or not all(isinstance(s, str) and s for s in bank):
            raise UsageError(f"{where}: rewrites.{kind} must be a list of non-empty strings")
        rewrites[kind] = tuple(bank)
    return TaskSpec(name=name, instruction=instruction, max_steps=max_steps,
                    rewrites=rewrites, group=str(data.get("group", "")))
