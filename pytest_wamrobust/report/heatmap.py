"""The policy x axis success heatmap, each policy's task x setting (`--by task`) or
setting x level (`--by level`) heatmap, and the --wam-search breaking-point grid as PNG
bytes (matplotlib, Agg: no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import AXES
from pytest_wamrobust.core.search.breaking_point import SearchResult
from pytest_wamrobust.report.aggregate import SuccessTable
from pytest_wamrobust.report.breaking import magnitude_text
from pytest_wamrobust.report.tables import title

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def heatmap_png(table: SuccessTable, dpi: int = 110) -> bytes:
    """Rows are policies, columns the settings and total; cells annotated with success %."""
    import numpy as np

    rates = np.array([[_rate(table, p, s) for s in table.settings] for p in table.policies])
    labels = [["" if np.isnan(r) else f"{100 * r:.0f}" for r in row] for row in rates]
    return _grid_png(rates * 100, labels, [title(s) for s in table.settings],
                     list(table.policies), "success %", "Success rate per setting",
                     dpi, scale=100.0)


def breakdown_figure(table: SuccessTable, policy: str) -> Figure:
    """`--by task`: rows are the tasks, columns the settings and total; `--by level`: rows
    are the settings and total, columns the levels (the difficulty curve, read left to
    right). Cells are the success % of the detail table's rows."""
    import numpy as np

    if table.by is None:
        raise ValueError("a breakdown heatmap needs a table broken down by task or level")
    pairs = [[(g, s) for s in table.settings] for g in table.groups]
    rows, columns = list(table.groups), [title(s) for s in table.settings]
    if table.by == "level":
        pairs = [list(column) for column in zip(*pairs, strict=True)]
        rows, columns = [title(s) for s in table.settings], list(table.groups)
    rates = np.array([[_rate(table, policy, s, g) for g, s in row] for row in pairs])
    labels = [["" if np.isnan(r) else f"{100 * r:.0f}" for r in row] for row in rates]
    heading = (f"{policy}: success per task and setting" if table.by == "task" else
               f"{policy}: success per setting and level")
    return grid_figure(rates * 100, labels, columns, rows, "success %", heading, scale=100.0)


def _grid_png(values, labels: Sequence[Sequence[str]], columns: Sequence[str],
              rows: Sequence[str], what: str, heading: str, dpi: int, scale: float) -> bytes:
    return figure_png(grid_figure(values, labels, columns, rows, what, heading, scale), dpi)


def grid_figure(values, labels: Sequence[Sequence[str]], columns: Sequence[str],
                rows: Sequence[str], what: str, heading: str, scale: float) -> Figure:
    """One red-to-green grid (0 to `scale`), each cell annotated with its label."""
    plt = pyplot()
    import numpy as np

    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(columns) + 0.05 * max(map(len, rows)),
                                    1.2 + 0.5 * len(rows)))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=0, vmax=scale,
                      aspect="auto")
    ax.set_xticks(range(len(columns)), list(columns), rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), list(rows))
    for i, row in enumerate(labels):
        for j, label in enumerate(row):
            if label:
                ax.text(j, i, label, ha="center", va="center", fontsize=9)
    fig.colorbar(image, ax=ax, label=what)
    ax.set_title(heading)
    fig.tight_layout()
    return fig


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display), or one line on how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("the figures (--html, --png) need matplotlib: "
                         "pip install 'pytest-wamrobust[reports]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed (pyplot keeps every open one)."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        pyplot().close(fig)
    return buffer.getvalue()


def stack_pngs(images: Sequence[bytes]) -> bytes:
    """Several figures as one PNG, top to bottom on white (what `--png` writes)."""
    if len(images) == 1:
        return images[0]
    plt = pyplot()
    import numpy as np

    pixels = [plt.imread(io.BytesIO(image), format="png")[..., :3] for image in images]
    width = max(p.shape[1] for p in pixels)
    padded = [np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=1.0)
              for p in pixels]
    buffer = io.BytesIO()
    plt.imsave(buffer, np.concatenate(padded), format="png")
    return buffer.getvalue()


def breaking_png(searches: Sequence[SearchResult], dpi: int = 110) -> bytes:
    """Rows are (policy, task), columns the searched axes; cells the breaking magnitude
    (green: breaks late or never, red: breaks near the clean scene)."""
    import numpy as np

    axes = [a for a in AXES if any(r.key.axis == a for r in searches)]
    rows = list(dict.fromkeys((r.policy, r.key.task) for r in searches))
    cells = {(r.policy, r.key.task, r.key.axis): r for r in searches}
    values = np.array([[_magnitude(cells.get((p, t, a))) for a in axes] for p, t in rows])
    labels = [[magnitude_text(cells.get((p, t, a))) for a in axes] for p, t in rows]
    return _grid_png(values, labels, [title(a) for a in axes], [f"{p} {t}" for p, t in rows],
                     "breaking magnitude m", "Breaking point per task and axis", dpi, scale=1.0)


def _magnitude(result: SearchResult | None) -> float:
    return float("nan") if result is None or result.errored else result.breaking_magnitude


def _rate(table: SuccessTable, policy: str, setting: str, group: str = "") -> float:
    cell = table.cell(policy, setting, group)
    return cell.rate if cell else float("nan")
