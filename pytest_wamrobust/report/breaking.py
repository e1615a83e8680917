"""The --wam-search breaking-point grid: task x axis, the smallest failing magnitude per
cell and the median per axis; built once here for the terminal, the Markdown and HTML
tables and the heatmap, so they never disagree."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_wamrobust.core.model.types import AXES
from pytest_wamrobust.core.search.breaking_point import SearchKey, SearchResult


@dataclass(frozen=True)
class BreakingTable:
    """Smallest failing m per (task, axis), and the median over tasks per axis."""

    tasks: tuple[str, ...]
    axes: tuple[str, ...]
    cells: Mapping[tuple[str, str], SearchResult]

    def median(self, axis: str) -> float:
        values = [r.breaking_magnitude for (_, a), r in self.cells.items()
                  if a == axis and not r.errored]
        return statistics.median(values) if values else math.nan


def breaking_table(results: Sequence[SearchResult]) -> BreakingTable:
    cells = {(r.key.task, r.key.axis): r for r in results}
    return BreakingTable(
        tasks=tuple(dict.fromkeys(r.key.task for r in results)),
        axes=tuple(a for a in AXES if any(r.key.axis == a for r in results)),
        cells=cells)


def magnitude_text(result: SearchResult | None) -> str:
    """A cell: `0.23`, `>=1` for no failure in the budget, `ERR`, or `-`."""
    if result is None:
        return "-"
    if result.errored:
        return "ERR"
    return f"{result.breaking_magnitude:.2f}" if result.found else ">=1"


def median_text(table: BreakingTable, axis: str) -> str:
    """The median row's cell: `0.41`, or `-` where no search of the axis was judged."""
    median = table.median(axis)
    return "-" if math.isnan(median) else f"{median:.2f}"


def breaking_lines(results: Sequence[SearchResult], errors: Mapping[SearchKey, str],
                   examples: int, listed: int) -> list[str]:
    """The grid as terminal lines (no failure counts as 1); then what broke each, the
    first `listed` of them by name, and the searches that errored."""
    if not results and not errors:
        return []
    table = breaking_table([*results, *(SearchResult(k, "", 0, examples, False, error=e)
                                        for k, e in errors.items())])
    width = max(len("median"), *(len(t) for t in table.tasks)) + 2
    lines = [f"breaking point: smallest failing magnitude m per task and axis (0 clean, 1 "
             f"the far edge of level 5; >=1 no failure in {examples} examples)",
             f"{'task':<{width}}" + "".join(f"{a:>12}" for a in table.axes)]
    for task in table.tasks:
        lines.append(f"{task:<{width}}" + "".join(
            f"{magnitude_text(table.cells.get((task, a))):>12}" for a in table.axes))
    lines.append(f"{'median':<{width}}" + "".join(f"{median_text(table, a):>12}"
                                                  for a in table.axes))
    found = [r for r in results if r.found]
    lines += [f"  {r.key.case_id}: {r.summary()}" for r in found[:listed]]
    if len(found) > listed:
        lines.append(f"  ... and {len(found) - listed} more (wam.breaking_params)")
    lines += [f"  error {k.case_id}: {e}" for k, e in sorted(errors.items())]
    return lines
