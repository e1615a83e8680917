"""Successive runs of one policy as a history: the success table per run and, between
consecutive runs, the paired comparison of `wamrobust compare`.

A release gate asks whether the candidate got more or less robust than the last few
releases. Pooled rates drift with noise; the marks come from the same exact McNemar test
(Holm-adjusted, with a minimum effect) that gates a single candidate, so a mark in the
trend means what a regression verdict means.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_wamrobust.core.judging.compare import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_EFFECT,
    IMPROVED,
    INCONCLUSIVE,
    REGRESSED,
    Comparison,
    compare_results,
)
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.report.aggregate import SuccessTable, success_table
from pytest_wamrobust.report.tables import Table, pct, title

#: The marks a history puts beside a rate the comparison with the run before judged.
DROP_MARK = "▼"
GAIN_MARK = "▲"


@dataclass(frozen=True)
class HistoryRun:
    """One point of the history: a run's merged results under its name, and when it
    started ("" when its files do not say)."""

    name: str
    started: str
    results: tuple[EpisodeResult, ...]


@dataclass(frozen=True)
class History:
    """`steps[i]` compares run i with run i + 1: a Comparison, or why there is none."""

    runs: tuple[HistoryRun, ...]
    table: SuccessTable
    steps: tuple[Comparison | str, ...]

    def verdict(self, index: int, setting: str) -> str | None:
        """The comparison's verdict on `setting` of run `index` against the run before."""
        step = self.steps[index - 1] if index else None
        if not isinstance(step, Comparison):
            return None
        return next((row.verdict for row in step.rows if row.setting == setting), None)


def history(runs: Sequence[HistoryRun], alpha: float = DEFAULT_ALPHA,
            min_effect: float = DEFAULT_MIN_EFFECT) -> History:
    """The runs' table (one row per run: each run's results carry its name as their
    policy) and each consecutive comparison."""
    steps: list[Comparison | str] = []
    for before, after in itertools.pairwise(runs):
        try:
            steps.append(compare_results(before.results, after.results, alpha=alpha,
                                         min_effect=min_effect))
        except UsageError as why:  # another suite or matrix: a point, but no mark
            steps.append(f"not compared: {str(why).split(';')[0]}")
    table = success_table([r for run in runs for r in run.results])
    return History(tuple(runs), table, tuple(steps))


def history_table(h: History) -> Table:
    """One row per run: when it started, success % per setting (marked where the paired
    comparison with the run before is significant), n, and that comparison in words."""
    mark = {REGRESSED: f" {DROP_MARK}", IMPROVED: f" {GAIN_MARK}"}
    rows = []
    for i, run in enumerate(h.runs):
        cells = [h.table.cell(run.name, s) for s in h.table.settings]
        rates = [pct(c.rate) + mark.get(h.verdict(i, s) or "", "") if c else "-"
                 for s, c in zip(h.table.settings, cells, strict=True)]
        rows.append((run.name, run.started or "-", *rates, str(len(run.results)),
                     _step_text(h.steps[i - 1]) if i else "-"))
    c = next((s for s in h.steps if isinstance(s, Comparison)), None)
    rule = (f"exact McNemar on the cases both runs played, Holm-adjusted, alpha={c.alpha:g}, "
            f"minimum effect {100 * c.min_effect:g} pp, as wamrobust compare" if c else
            "no two consecutive runs could be paired")
    return Table("History: success rate (%) per setting, run by run",
                 ("Run", "Started", *(title(s) for s in h.table.settings), "n",
                  "vs previous run"),
                 tuple(rows),
                 f"{DROP_MARK} a drop, {GAIN_MARK} a gain that the paired comparison with the "
                 f"run before judges significant ({rule}); an unmarked change is within noise.")


def _step_text(step: Comparison | str) -> str:
    if isinstance(step, str):
        return step
    named = {verdict: ", ".join(title(r.setting) for r in step.rows if r.verdict == verdict)
             for verdict in (REGRESSED, IMPROVED)}
    unclear = ", ".join(title(r.setting) for r in step.inconclusive_drops)
    parts = [f"{verdict} ({names})" for verdict, names in named.items() if names]
    if unclear:
        parts.append(f"{INCONCLUSIVE} drop ({unclear})")
    return "; ".join(parts) or "no significant change"
