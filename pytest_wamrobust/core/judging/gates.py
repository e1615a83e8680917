"""Release gates: minimum success rate per setting, and a per-chunk latency ceiling.

Thresholds come, key by key, from the suite manifest's `[thresholds]` (defaults), then
`[tool.wamrobust.thresholds]` in the project's pyproject.toml, then `--wam-thresholds
FILE`. They are parsed before any episode runs, so a typo costs one line, not a run.

    [tool.wamrobust.thresholds]
    clean = 0.9            # minimum success rate of the clean row
    camera = 0.5           # ... of one axis row (any of the seven)
    overall = 0.6          # ... over all perturbed-axis episodes (the study's "Total")
    max_chunk_latency_ms = 120   # ceiling on a statistic of every inferred chunk's time
    latency_stat = "p99"         # which: "p95" (default), "p99" or "max" (catches stalls)
    judge = "wilson_lower"       # or "point": compare the 95% lower bound, not the rate
    max_error_rate = 0.02        # share of episodes that may end in error or never run
                                 # (default 0: any one fails the run, whatever the rates)
    on_inconclusive = "fail"     # --wam-baseline: a drop too few cases can judge fails
                                 # (default "pass": the verdict says INCONCLUSIVE)
    min_breaking_magnitude = 0.4 # --wam-search: no axis may break below m = 0.4 ...
    # ... or per axis: min_breaking_magnitude = { default = 0.4, language = 0.6 }
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytest_wamrobust.core.judging.stats import wilson_interval
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import CLEAN, SETTINGS

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the tomli backport, a dependency there
    import tomli as tomllib

#: The row over every perturbed-axis episode (clean excluded), and its threshold key.
OVERALL = "overall"
LATENCY = "max_chunk_latency_ms"
#: The share of episodes that may end as `error` or `not_run`; unset, none may.
ERROR_RATE = "max_error_rate"
JUDGES = ("point", "wilson_lower")
#: Statistics the latency gate can judge, as percentiles of all chunk times.
LATENCY_STATS = {"p95": 95.0, "p99": 99.0, "max": 100.0}
DEFAULT_LATENCY_STAT = "p95"
RATE_KEYS = (*SETTINGS, OVERALL)
#: The --wam-search gate: the smallest perturbation magnitude allowed to break a task.
BREAKING_GATE = "min_breaking_magnitude"
#: What a baseline drop too few paired cases can judge does to the verdict.
INCONCLUSIVE_KEY = "on_inconclusive"
INCONCLUSIVE_RULES = ("pass", "fail")
#: The key of a per-axis `min_breaking_magnitude` table that applies to the other axes.
DEFAULT_AXIS = "default"


class ThresholdsError(UsageError):
    """Malformed thresholds; one line that names the key and the fix."""


@dataclass(frozen=True)
class Thresholds:
    """Minimum rates per setting key (`clean`, an axis, `overall`) and a latency ceiling."""

    rates: Mapping[str, float] = field(default_factory=dict)
    max_chunk_latency_ms: float | None = None
    judge: str | None = None
    latency_stat: str | None = None
    sources: tuple[str, ...] = ()
    #: min_breaking_magnitude per axis ("default": the axes not named)
    breaking: Mapping[str, float] = field(default_factory=dict)
    #: the share of episodes that may error or never run; None: not set (none may)
    max_error_rate: float | None = None
    #: "pass" or "fail"; None: not set (pass)
    on_inconclusive: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.rates) or self.max_chunk_latency_ms is not None or bool(self.breaking)

    def min_breaking_magnitude(self, axis: str) -> float | None:
        """The gate of `axis`' breaking-point search, None when none is set."""
        return self.breaking.get(axis, self.breaking.get(DEFAULT_AXIS))

    def merged(self, other: Thresholds) -> Thresholds:
        """`other` overrides this key by key (rates, latency, judge when it set one)."""
        return Thresholds(
            rates={**self.rates, **other.rates},
            max_chunk_latency_ms=(other.max_chunk_latency_ms
                                  if other.max_chunk_latency_ms is not None
                                  else self.max_chunk_latency_ms),
            judge=other.judge or self.judge,
            latency_stat=other.latency_stat or self.latency_stat,
            sources=self.sources + other.sources,
            breaking={**self.breaking, **other.breaking},
            max_error_rate=(other.max_error_rate if other.max_error_rate is not None
                            else self.max_error_rate),
            on_inconclusive=other.on_inconclusive or self.on_inconclusive,
        )

    @property
    def judged_by(self) -> str:
        """The judge in force: "point" unless a source chose another."""
        return self.judge or "point"

    @property
    def latency_statistic(self) -> str:
        """The latency statistic the gate judges: p95 unless a source chose another."""
        return self.latency_stat or DEFAULT_LATENCY_STAT


def parse_rate(value: Any, key: str, where: str, what: str = "a success rate") -> float:
    """A rate in [0, 1]; `85%` style strings are accepted for readability."""
    text = str(value).strip()
    try:
        rate = float(text[:-1]) / 100.0 if text.endswith("%") else float(value)
    except (TypeError, ValueError):
        raise ThresholdsError(f"{where}: {key} = {value!r} is not a number; "
                              f"write a rate like 0.8 or \"80%\"") from None
    if isinstance(value, bool) or not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ThresholdsError(f"{where}: {key} = {value!r} must be {what} in [0, 1]")
    return rate


def parse_thresholds(data: Mapping[str, Any], where: str) -> Thresholds:
    """The typed form of one thresholds table; unknown keys are an error, not ignored."""
    if not isinstance(data, Mapping):
        raise ThresholdsError(f"{where}: thresholds must be a table of key = value")
    rates: dict[str, float] = {}
    latency = None
    judge = None
    latency_stat = None
    breaking: dict[str, float] = {}
    error_rate = None
    on_inconclusive = None
    for key, value in data.items():
        if key in RATE_KEYS:
            rates[key] = parse_rate(value, key, where)
        elif key == LATENCY:
            latency = _parse_latency(value, where)
        elif key == ERROR_RATE:
            error_rate = parse_rate(value, key, where, "a share of episodes")
        elif key == "judge":
            if not isinstance(value, str) or value not in JUDGES:
                raise ThresholdsError(f"{where}: judge = {value!r}; use one of {', '.join(JUDGES)}")
            judge = value
        elif key == "latency_stat":
            if not isinstance(value, str) or value not in LATENCY_STATS:  # a list: unhashable
                raise ThresholdsError(f"{where}: latency_stat = {value!r}; use one of "
                                      f"{', '.join(LATENCY_STATS)}")
            latency_stat = value
        elif key == BREAKING_GATE:
            breaking = _parse_breaking(value, where)
        elif key == INCONCLUSIVE_KEY:
            if not isinstance(value, str) or value not in INCONCLUSIVE_RULES:
                raise ThresholdsError(f"{where}: {key} = {value!r}; use \"pass\" or \"fail\" "
                                      f"(whether a baseline drop too few cases can judge fails)")
            on_inconclusive = value
        else:
            raise ThresholdsError(
                f"{where}: unknown threshold {key!r}; keys are {', '.join(RATE_KEYS)}, "
                f"{LATENCY}, latency_stat, judge, {ERROR_RATE}, {INCONCLUSIVE_KEY} and "
                f"{BREAKING_GATE}")
    return Thresholds(rates, latency, judge, latency_stat, (where,), breaking, error_rate,
                      on_inconclusive)


def _parse_breaking(value: Any, where: str) -> dict[str, float]:
    """A magnitude in [0, 1] for every axis, or a table of axis (or default) = magnitude."""
    from pytest_wamrobust.core.model.types import AXES

    table = value if isinstance(value, Mapping) else {DEFAULT_AXIS: value}
    out = {}
    for axis, magnitude in table.items():
        name = BREAKING_GATE if axis == DEFAULT_AXIS else f"{BREAKING_GATE}.{axis}"
        if axis != DEFAULT_AXIS and axis not in AXES:
            raise ThresholdsError(f"{where}: {name}: unknown axis {axis!r}; use {DEFAULT_AXIS} "
                                  f"or one of {', '.join(AXES)}")
        if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float)) or not (
                0.0 <= magnitude <= 1.0):
            raise ThresholdsError(f"{where}: {name} = {magnitude!r} must be a perturbation "
                                  f"magnitude in [0, 1] (0 clean, 1 the far edge of level 5)")
        out[axis] = float(magnitude)
    return out


def _parse_latency(value: Any, where: str) -> float:
    try:
        ms = float(value)
    except (TypeError, ValueError):
        raise ThresholdsError(
            f"{where}: {LATENCY} = {value!r} is not a number of milliseconds") from None
    if isinstance(value, bool) or not ms > 0 or math.isinf(ms):
        raise ThresholdsError(f"{where}: {LATENCY} = {value!r} must be a positive number of ms")
    return ms


def load_thresholds_file(path: str | Path) -> Thresholds:
    """A TOML file holding the keys at top level, under [thresholds] or under
    [tool.wamrobust.thresholds] (so a pyproject.toml can be passed as is)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ThresholdsError(
            f"cannot read thresholds file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThresholdsError(f"thresholds file {path} is not valid TOML: {exc}") from None
    table = _table(data, ("tool", "wamrobust", "thresholds"), str(path),
                   "write the gates at top level, under [thresholds] or under "
                   "[tool.wamrobust.thresholds]")
    if table is None:
        table = data.get("thresholds", data)
    return parse_thresholds(table, str(path))


def _table(data: Mapping[str, Any], keys: tuple[str, ...], where: str,
           fix: str) -> Mapping[str, Any] | None:
    """The table at `keys` (tool.wamrobust...), None where a key is absent; a value that
    is not a table on the way (`tool = "x"`) is one line, not an AttributeError."""
    node: Any = data
    for depth, key in enumerate(keys):
        if key not in node:
            return None
        node = node[key]
        if not isinstance(node, Mapping):
            raise ThresholdsError(
                f"{where}: {'.'.join(keys[:depth + 1])} = {node!r} is not a table; {fix}")
    return node


def thresholds_from_pyproject(rootdir: Path) -> Thresholds:
    """`[tool.wamrobust.thresholds]` of the project, empty if it has none."""
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return Thresholds()
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{path} is not valid TOML: {exc}") from None
    section = _table(data, ("tool", "wamrobust"), str(path),
                     "gates go under [tool.wamrobust.thresholds], options under "
                     "[tool.pytest.ini_options]") or {}
    misplaced = sorted(set(section) - {"thresholds"})
    if misplaced:
        raise ThresholdsError(
            f"{path} [tool.wamrobust]: unknown key {misplaced[0]!r}; gates go under "
            f"[tool.wamrobust.thresholds], options under [tool.pytest.ini_options]")
    table = section.get("thresholds")
    if table is None:
        return Thresholds()
    return parse_thresholds(table, f"{path} [tool.wamrobust.thresholds]")


def resolve_thresholds(manifest_defaults: Mapping[str, Any], manifest_source: str,
                       rootdir: Path | None, file: str | Path | None) -> Thresholds:
    """Manifest defaults, overridden by pyproject.toml, overridden by the file."""
    thresholds = Thresholds()
    if manifest_defaults:
        thresholds = parse_thresholds(manifest_defaults, f"{manifest_source} [thresholds]")
    if rootdir is not None:
        thresholds = thresholds.merged(thresholds_from_pyproject(rootdir))
    if file is not None:
        thresholds = thresholds.merged(load_thresholds_file(file))
    return thresholds


@dataclass(frozen=True)
class Row:
    """One setting of the robustness table; errored episodes count as not solved."""

    setting: str
    n: int
    successes: int
    errors: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else float("nan")

    @property
    def ci(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.n)


@dataclass(frozen=True)
class Verdict:
    """One gate: what was measured (`observed`), against what, and whether it held.

    `passed` is None when the gate could not be judged (its setting did not run)."""

    name: str
    observed: float
    threshold: float
    passed: bool | None
    detail: str
    #: a rate judged by its point estimate whose 95% interval holds the threshold: the
    #: sample is too small to tell which side the rate is on (the interval, or "")
    unresolved: str = ""


def table_rows(results: Iterable[EpisodeResult]) -> list[Row]:
    """Clean, then the seven axes (those that ran), then `overall` over the axes."""
    counts: dict[str, list[int]] = {s: [0, 0, 0] for s in SETTINGS}
    for result in results:
        cell = counts.setdefault(result.key.setting, [0, 0, 0])
        cell[0] += 1
        cell[1] += result.success
        cell[2] += result.errored
    rows = [Row(s, *counts[s]) for s in SETTINGS if counts[s][0]]
    rows += [Row(s, *c) for s, c in counts.items() if s not in SETTINGS]
    perturbed = [r for r in rows if r.setting != CLEAN]
    if perturbed:
        rows.append(Row(OVERALL, sum(r.n for r in perturbed), sum(r.successes for r in perturbed),
                        sum(r.errors for r in perturbed)))
    return rows


def chunk_latency(results: Iterable[EpisodeResult], stat: str) -> float:
    """One of LATENCY_STATS over every chunk of every episode (NaN if none ran)."""
    latencies = [ms for r in results for ms in r.chunk_latencies_ms]
    return float(np.percentile(latencies, LATENCY_STATS[stat])) if latencies else float("nan")


def check_judgeable(thresholds: Thresholds, settings: Iterable[str]) -> None:
    """Refuse, before any episode, a rate gate whose setting the run has no case of
    (`clean = 0.9` with --axes=camera): it would be "not run" and let the run pass
    having judged nothing. `thresholds` are the user's own (pyproject, --wam-thresholds):
    a suite manifest's defaults cover every setting and only apply where they can."""
    present = set(settings)
    for key in thresholds.rates:
        covered = bool(present - {CLEAN}) if key == OVERALL else key in present
        if not covered:
            what = "no perturbed-axis case" if key == OVERALL else f"no {key} case"
            raise ThresholdsError(
                f"{', '.join(thresholds.sources)}: the gate {key} = {thresholds.rates[key]:g} "
                f"has {what} to judge in this run; select {key if key != OVERALL else 'an axis'}"
                f" with --axes (a setting list) or drop the gate")


def evaluate(thresholds: Thresholds, rows: Sequence[Row],
             latency_ms: float) -> list[Verdict]:
    """One verdict per configured gate, in table order, latency last; `latency_ms` is
    the chunk-time statistic the thresholds chose (`thresholds.latency_statistic`)."""
    by_setting = {row.setting: row for row in rows}
    verdicts = []
    for key in RATE_KEYS:
        if key not in thresholds.rates:
            continue
        minimum = thresholds.rates[key]
        row = by_setting.get(key)
        if row is None or row.n == 0:
            verdicts.append(Verdict(key, float("nan"), minimum, None, "not run"))
            continue
        observed = row.rate if thresholds.judged_by == "point" else row.ci[0]
        what = "success" if thresholds.judged_by == "point" else "95% lower bound"
        passed = observed >= minimum
        low, high = row.ci
        unresolved = (f"n={row.n}, 95% interval [{low:.1%}, {high:.1%}]"
                      if thresholds.judged_by == "point" and low < minimum <= high else "")
        verdicts.append(Verdict(key, observed, minimum, passed,
                                f"{what} {observed:.1%} {'>=' if passed else '<'} {minimum:.1%} "
                                f"({row.successes}/{row.n})", unresolved))
    if thresholds.max_chunk_latency_ms is not None:
        limit = thresholds.max_chunk_latency_ms
        stat = thresholds.latency_statistic
        if math.isnan(latency_ms):
            verdicts.append(Verdict(LATENCY, latency_ms, limit, None, "no chunk ran"))
        else:
            passed = latency_ms <= limit
            verdicts.append(Verdict(LATENCY, latency_ms, limit, passed,
                                    f"{stat} {latency_ms:.1f} ms {'<=' if passed else '>'} "
                                    f"{limit:g} ms"))
    return verdicts
