"""From episode results to the numbers of the study's tables: success per setting with a
95% interval, and per-chunk latency percentiles per policy.

Pure numbers (no formatting), so the Markdown, HTML and heatmap views agree by
construction, and a merged set of shards gives the same figures as one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..core.results import EpisodeResult
from ..core.stats import wilson_interval
from ..core.types import SETTINGS

#: The column over every case of a policy (clean and all axes), as in the study.
TOTAL = "total"
#: What `by` may break the rows down by.
BREAKDOWNS = ("task", "level")


@dataclass(frozen=True)
class Cell:
    """Successes out of n episodes; errored episodes count as not solved."""

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
class SuccessTable:
    """cells[(policy, setting, group)]; group is "" unless broken down by task or level."""

    policies: tuple[str, ...]
    settings: tuple[str, ...]
    groups: tuple[str, ...]
    by: str | None
    cells: dict[tuple[str, str, str], Cell]

    def cell(self, policy: str, setting: str, group: str = "") -> Cell | None:
        return self.cells.get((policy, setting, group))


@dataclass(frozen=True)
class LatencyRow:
    """Per-chunk inference latency of one policy, in ms; `source` says where it was measured."""

    policy: str
    source: str
    chunks: int
    p50_ms: float
    p95_ms: float
    mean_ms: float


def success_table(results: Sequence[EpisodeResult], by: str | None = None) -> SuccessTable:
    """Policies (first-seen order) x settings (study order, total last) [x task or level]."""
    if by is not None and by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {BREAKDOWNS}, got {by!r}")
    counts: dict[tuple[str, str, str], list[int]] = {}
    policies: dict[str, None] = {}
    present: set[str] = set()
    groups: set[str] = set()
    for r in results:
        policies.setdefault(r.policy)
        present.add(r.key.axis)
        group = _group(r, by)
        groups.add(group)
        for setting in (r.key.axis, TOTAL):
            for g in {group, ""}:
                c = counts.setdefault((r.policy, setting, g), [0, 0, 0])
                c[0] += 1
                c[1] += r.success
                c[2] += r.errored
    settings = [s for s in SETTINGS if s in present] + sorted(present - set(SETTINGS))
    return SuccessTable(
        policies=tuple(policies),
        settings=(*settings, TOTAL),
        groups=tuple(sorted(groups, key=_group_order)),
        by=by,
        cells={k: Cell(*v) for k, v in counts.items()},
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
            p50, p95 = np.percentile(a, [50, 95])
            rows.append(LatencyRow(policy, "episodes", a.size, float(p50), float(p95),
                                   float(a.mean())))
        else:
            rows.append(LatencyRow(policy, "episodes", 0, *(float("nan"),) * 3))
    return rows


def _group(result: EpisodeResult, by: str | None) -> str:
    if by == "task":
        return result.key.task
    if by == "level":
        return f"L{result.key.level}"
    return ""


def _group_order(group: str) -> tuple[int, int | str]:
    if group.startswith("L") and group[1:].isdigit():
        return (0, int(group[1:]))
    return (1, group)
