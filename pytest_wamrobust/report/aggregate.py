"""From episode results to the numbers of the study's tables: success per setting with a
95% interval, and per-chunk latency percentiles per policy.

Pure numbers (no formatting), so the Markdown, HTML and heatmap views agree by
construction, and a merged set of shards gives the same figures as one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pytest_wamrobust.core.judging.gates import OVERALL, Row, table_rows
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import SETTINGS

#: What `by` may break the rows down by.
BREAKDOWNS = ("task", "level")


@dataclass(frozen=True)
class SuccessTable:
    """cells[(policy, setting, group)]; group is "" unless broken down by task or level.

    Each (policy, group) column is `core.judging.gates.table_rows` of its episodes, so the
    numbers are those of the plugin's terminal table and gates: clean, the axes, then
    `overall` over the perturbed episodes (the study's "Total", clean excluded).
    """

    policies: tuple[str, ...]
    settings: tuple[str, ...]
    groups: tuple[str, ...]
    by: str | None
    cells: dict[tuple[str, str, str], Row]

    def cell(self, policy: str, setting: str, group: str = "") -> Row | None:
        return self.cells.get((policy, setting, group))


@dataclass(frozen=True)
class LatencyRow:
    """Per-chunk inference latency of one policy, in ms; `source` says where it was measured."""

    policy: str
    source: str
    chunks: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


def success_table(results: Sequence[EpisodeResult], by: str | None = None) -> SuccessTable:
    """Policies (first-seen order) x settings (study order, overall last) [x task or level]."""
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {BREAKDOWNS}, got {by!r}")
    subsets: dict[tuple[str, str], list[EpisodeResult]] = {}
    for r in results:
        subsets.setdefault((r.policy, ""), []).append(r)
        if by:
            subsets.setdefault((r.policy, _group(r, by)), []).append(r)
    cells = {(policy, row.setting, group): row
             for (policy, group), subset in subsets.items() for row in table_rows(subset)}
    settings = {setting for (_, setting, group) in cells if not group}
    return SuccessTable(
        policies=tuple(dict.fromkeys(p for p, _ in subsets)),
        settings=tuple(sorted(settings, key=_setting_order)),
        groups=tuple(sorted({g for _, g in subsets if g}, key=_group_order)),
        by=by,
        cells=cells,
    )


def latency_rows(results: Iterable[EpisodeResult]) -> list[LatencyRow]:
    """Every chunk of every episode of a policy pooled, as the latency gate sees them."""
    pooled: dict[str, list[float]] = {}
    for r in results:
        pooled.setdefault(r.policy, []).extend(r.chunk_latencies_ms)
    rows = []
    for policy, values in pooled.items():
        if values:
            a = np.asarray(values)
            p50, p95, p99 = np.percentile(a, [50, 95, 99])
            rows.append(LatencyRow(policy, "episodes", a.size, float(p50), float(p95),
                                   float(p99), float(a.max()), float(a.mean())))
        else:
            rows.append(LatencyRow(policy, "episodes", 0, *(float("nan"),) * 5))
    return rows


def _group(result: EpisodeResult, by: str | None) -> str:
    if by == "task":
        return result.key.task
    if by == "level":
        return f"L{result.key.level}"
    return ""


def _setting_order(setting: str) -> tuple[bool, int, str]:
    """The study's order, unknown settings after the axes, overall last."""
    known = SETTINGS.index(setting) if setting in SETTINGS else len(SETTINGS)
    return (setting == OVERALL, known, setting)


def _group_order(group: str) -> tuple[int, int | str]:
    if group.startswith("L") and group[1:].isdigit():
        return (0, int(group[1:]))
    return (1, group)
