"""Latency rows from pytest-benchmark's `--benchmark-json` file.

pytest-benchmark switches itself off under xdist, so its numbers come from a separate
`-n 0` run of the latency cases; folding them into the same table as the per-chunk
timings of the episodes shows both side by side. Its stats hold no p95: that column
comes from the raw timings when the file carries them (`--benchmark-save-data`, or the
plugin's latency test, which saves them) or from `extra_info["p95_ms"]`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.report.aggregate import LatencyRow


def read_benchmark_json(path: str | Path) -> list[LatencyRow]:
    """One row per benchmark, named by the policy it timed where the file says so."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file; write it with pytest --benchmark-json={path.name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path} is not JSON ({exc}); pass the file pytest --benchmark-json wrote") from None
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list):
        raise UsageError(f"{path} is not a pytest-benchmark file (no 'benchmarks' list)")
    rows = []
    for bench in benchmarks:
        try:
            stats = bench["stats"]
            raw = stats.get("data")
            extra = bench.get("extra_info") or {}
            if raw:
                p95, p99 = (float(x) * 1000.0 for x in np.percentile(raw, [95, 99]))
            else:
                p95, p99 = (float(extra.get(f"{q}_ms", "nan")) for q in ("p95", "p99"))
            rows.append(LatencyRow(_policy(bench), f"pytest-benchmark ({bench['name']})",
                                   int(stats["rounds"]), float(stats["median"]) * 1000.0,
                                   p95, p99, float(stats.get("max", "nan")) * 1000.0,
                                   float(stats["mean"]) * 1000.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(
                f"{path}: a benchmark entry lacks pytest-benchmark stats ({exc!r})") from None
    return rows


def _policy(bench: dict) -> str:
    """`extra_info["policy"]`, else the plugin's `policy_name` parameter, else the test name."""
    params = bench.get("params") or {}
    return str((bench.get("extra_info") or {}).get("policy") or params.get("policy_name")
               or bench["name"])
