"""The policy x axis success heatmap as PNG bytes (matplotlib, Agg: no display needed)."""

from __future__ import annotations

import io

from pytest_wamrobust.core.errors import UsageError
from pytest_wamrobust.report.aggregate import SuccessTable
from pytest_wamrobust.report.tables import title


def heatmap_png(table: SuccessTable, dpi: int = 110) -> bytes:
    """Rows are policies, columns the settings and total; cells annotated with success %."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("the heatmap (--html, --png) needs matplotlib: "
                         "pip install 'pytest-wamrobust[reports]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rates = np.array([[_rate(table, p, s) for s in table.settings] for p in table.policies])
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(table.settings),
                                    1.2 + 0.5 * len(table.policies)))
    try:
        image = ax.imshow(np.ma.masked_invalid(rates * 100), cmap="RdYlGn", vmin=0, vmax=100,
                          aspect="auto")
        ax.set_xticks(range(len(table.settings)), [title(s) for s in table.settings],
                      rotation=30, ha="right")
        ax.set_yticks(range(len(table.policies)), list(table.policies))
        for i, row in enumerate(rates):
            for j, rate in enumerate(row):
                if not np.isnan(rate):
                    ax.text(j, i, f"{100 * rate:.0f}", ha="center", va="center", fontsize=9)
        fig.colorbar(image, ax=ax, label="success %")
        ax.set_title("Success rate per perturbation axis")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _rate(table: SuccessTable, policy: str, setting: str) -> float:
    cell = table.cell(policy, setting)
    return cell.rate if cell else float("nan")
