"""The history as a chart: one panel per setting (and the total), success % run by run
with the 95% Wilson band of each point, and a marker where the paired comparison with
the run before judged a drop (or a gain) significant."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pytest_wamrobust.core.judging.compare import IMPROVED, REGRESSED
from pytest_wamrobust.report.heatmap import pyplot
from pytest_wamrobust.report.history import History
from pytest_wamrobust.report.tables import title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The chart's heading; the panels are titled by setting as the tables' columns are.
HEADING = "Success rate per setting, run by run (band: 95% Wilson interval)"
_PANELS_PER_ROW = 3


def trend_figure(h: History) -> Figure:
    plt = pyplot()
    settings = h.table.settings
    columns = min(_PANELS_PER_ROW, len(settings))
    lines = math.ceil(len(settings) / columns)
    x = list(range(len(h.runs)))
    names = [run.name for run in h.runs]
    fig, grid = plt.subplots(lines, columns, squeeze=False, sharey=True,
                             figsize=(1.5 + columns * max(3.0, 0.55 * len(x)), 0.8 + 2.6 * lines))
    for panel, ax in enumerate(grid.flat):
        if panel >= len(settings):
            ax.remove()
            continue
        setting = settings[panel]
        cells = [h.table.cell(name, setting) for name in names]
        rate = [100 * c.rate if c else math.nan for c in cells]
        low = [100 * c.ci[0] if c else math.nan for c in cells]
        high = [100 * c.ci[1] if c else math.nan for c in cells]
        ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, linewidth=0)
        ax.plot(x, rate, marker="o", color="tab:blue")
        for verdict, marker, colour in ((REGRESSED, "v", "tab:red"),
                                        (IMPROVED, "^", "tab:green")):
            marked = [i for i in x if h.verdict(i, setting) == verdict]
            ax.scatter(marked, [rate[i] for i in marked], marker=marker, s=90, color=colour,
                       zorder=3)
        ax.set_title(title(setting))
        ax.set_ylim(-4, 104)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in grid[:, 0]:
        ax.set_ylabel("success %")
    fig.suptitle(HEADING)
    fig.tight_layout()
    return fig
