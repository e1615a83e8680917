"""The policy x axis success heatmap and the --wam-search breaking-point grid as PNG bytes
(matplotlib, Agg: no display needed)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import AXES
from pytest_wamrobust.core.search.breaking_point import SearchResult
from pytest_wamrobust.report.aggregate import SuccessTable
from pytest_wamrobust.report.breaking import magnitude_text
from pytest_wamrobust.report.tables import title


def heatmap_png(table: SuccessTable, dpi: int = 110) -> bytes:
    """Rows are policies, columns the settings and total; cells annotated with success %."""
    import numpy as np

    rates = np.array([[_rate(table, p, s) for s in table.settings] for p in table.policies])
    labels = [["" if np.isnan(r) else f"{100 * r:.0f}" for r in row] for row in rates]
    return _grid_png(rates * 100, labels, [title(s) for s in table.settings],
                     list(table.policies), "success %", "Success rate per setting",
                     dpi, scale=100.0)


def _grid_png(values, labels: Sequence[Sequence[str]], columns: Sequence[str],
              rows: Sequence[str], what: str, heading: str, dpi: int, scale: float) -> bytes:
    """One red-to-green grid (0 to `scale`), each cell annotated with its label."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("the heatmap (--html, --png) needs matplotlib: "
                         "pip install 'pytest-wamrobust[reports]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(columns) + 0.05 * max(map(len, rows)),
                                    1.2 + 0.5 * len(rows)))
    try:
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
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
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


def _rate(table: SuccessTable, policy: str, setting: str) -> float:
    cell = table.cell(policy, setting)
    return cell.rate if cell else float("nan")
