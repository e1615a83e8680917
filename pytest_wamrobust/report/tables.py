"""The report's tables as plain header + string rows, and their Markdown form.

Each table is built once here; Markdown (this module) and HTML (html.py) only render
it, so the two views never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_wamrobust.core.judging.compare import Comparison
from pytest_wamrobust.core.judging.gates import OVERALL, Row
from pytest_wamrobust.core.model.types import AXES
from pytest_wamrobust.core.search.breaking_point import SearchResult
from pytest_wamrobust.report.aggregate import LatencyRow, SuccessTable
from pytest_wamrobust.report.breaking import breaking_table, magnitude_text, median_text

#: Column titles of the settings, as the study prints them.
TITLES = {
    "clean": "Clean", "camera": "Camera", "robot_init": "Robot", "language": "Language",
    "light": "Light", "background": "Background", "noise": "Noise", "layout": "Layout",
    OVERALL: "Total",
}


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def title(setting: str) -> str:
    return TITLES.get(setting, setting)


def pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}"


def ms(x: float) -> str:
    """Three significant digits: a scripted policy's 0.02 ms and a VLA's 480 ms both read."""
    return "-" if math.isnan(x) else f"{x:.1f}" if x >= 100 else f"{x:.3g}"


def _ci(cell: Row) -> str:
    lo, hi = cell.ci
    return f"{pct(lo)}-{pct(hi)}"


def summary_table(table: SuccessTable) -> Table:
    """The study's table: one row per policy, success % per setting and in total."""
    rows = []
    for policy in table.policies:
        cells = [table.cell(policy, s) for s in table.settings]
        n = sum(c.n for c in cells if c and c.setting != OVERALL)
        rows.append((policy, *(pct(c.rate) if c else "-" for c in cells), str(n)))
    return Table("Success rate (%) per setting",
                 ("Policy", *(title(s) for s in table.settings), "n"), tuple(rows),
                 "Errored episodes count as failures. Total is over the perturbed episodes (clean "
                 "excluded), as in the study; n counts every episode.")


def detail_table(table: SuccessTable, policy: str) -> Table:
    """One policy: n, successes, success % and its 95% Wilson interval per setting."""
    groups = table.groups if table.by else ("",)
    rows = []
    for setting in table.settings:
        for group in groups:
            cell = table.cell(policy, setting, group)
            if cell is None:
                continue
            lead = (title(setting), group) if table.by else (title(setting),)
            rows.append((*lead, str(cell.n), str(cell.successes), pct(cell.rate), _ci(cell),
                         str(cell.errors)))
    lead_headers = ("Setting", table.by.capitalize()) if table.by else ("Setting",)
    return Table(f"{policy}: success per setting" + (f" and {table.by}" if table.by else ""),
                 (*lead_headers, "n", "Solved", "Success %", "95% CI (Wilson)", "Errors"),
                 tuple(rows))


def latency_table(rows: Sequence[LatencyRow]) -> Table:
    return Table(
        "Inference latency per action chunk (ms)",
        ("Policy", "Source", "Chunks", "p50", "p95", "p99", "Max", "Mean"),
        tuple((r.policy, r.source, str(r.chunks), ms(r.p50_ms), ms(r.p95_ms), ms(r.p99_ms),
               ms(r.max_ms), ms(r.mean_ms))
              for r in rows),
        "'episodes' pools every chunk the runner timed; pytest-benchmark rows come from a "
        "separate -n 0 run (p95 needs --benchmark-save-data).")


def comparison_table(comparison: Comparison) -> Table:
    c = comparison
    rows = tuple(
        (title(r.setting), str(r.n), pct(r.baseline_rate), pct(r.candidate_rate),
         f"{100 * r.delta:+.1f}", f"{r.only_baseline}/{r.only_candidate}", f"{r.p_value:.3g}",
         f"{r.adjusted_p:.3g}", r.verdict_text)
        for r in c.rows)
    note = (f"Paired on (suite, task, setting, level, seed); exact McNemar on discordant pairs, "
            f"Holm-adjusted; alpha={c.alpha:g}, minimum effect {100 * c.min_effect:g} pp.")
    if c.unpaired_baseline or c.unpaired_candidate:
        note += (f" Unpaired cases ignored: {c.unpaired_baseline} baseline, "
                 f"{c.unpaired_candidate} candidate.")
    return Table(
        f"Candidate {c.candidate_policy!r} vs baseline {c.baseline_policy!r}",
        ("Setting", "Pairs", "Baseline %", "Candidate %", "Delta pp",
         "Lost/Gained", "p", "p (Holm)", "Verdict"),
        rows, note)


def breaking_point_table(searches: Sequence[SearchResult]) -> Table:
    """--wam-search: per policy and task, the smallest failing magnitude per axis, then
    the median per axis (no failure counts as 1)."""
    axes = tuple(a for a in AXES if any(r.key.axis == a for r in searches))
    rows = []
    for policy in dict.fromkeys(r.policy for r in searches):
        table = breaking_table([r for r in searches if r.policy == policy])
        rows += [(policy, task, *(magnitude_text(table.cells.get((task, a))) for a in axes))
                 for task in table.tasks]
        rows.append((policy, "median", *(median_text(table, a) for a in axes)))
    examples = max((r.max_examples for r in searches), default=0)
    return Table("Breaking point: smallest failing magnitude m per task and axis",
                 ("Policy", "Task", *(title(a) for a in axes)), tuple(rows),
                 f"m: 0 the clean scene, 1 the far edge of level 5, level L its L-th fifth; "
                 f">=1: no failure in {examples} examples; ERR: the search errored. "
                 f"The perturbation of each cell is its wam.breaking_params.")


def to_markdown(table: Table) -> str:
    widths = [max(len(h), *(len(r[i]) for r in table.rows)) if table.rows else len(h)
              for i, h in enumerate(table.headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [f"### {table.title}", "", line(table.headers),
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in table.rows]
    if table.note:
        out += ["", table.note]
    return "\n".join(out) + "\n"
