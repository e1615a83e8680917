"""Episode results for report and compare tests, on the case grid of a real manifest.

Each result carries the case's real perturbation parameters and episode seed (drawn
by GridSuite, as the plugin does) and goes to JUnit through `EpisodeResult.to_properties`,
the plugin's path; only the outcome and the latencies are drawn here, from a seeded
generator, so tests can plant success rates.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model.protocols import CaseSelection
from pytest_wamrobust.core.model.results import FAILURE, SUCCESS, EpisodeResult

#: Golden JUnit files of real tabletop runs (fixtures/junit/make_golden.py).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "junit"

REWRITES = {k: [f"{k} one", f"{k} two"] for k in
            ("paraphrase", "synonyms", "distractor", "constraint", "reasoning")}


def grid_suite(name: str = "mini", tasks: int = 2, levels=(1, 3, 5), seeds: int = 2) -> GridSuite:
    return GridSuite(SuiteManifest.from_dict({
        "suite": {"name": name, "default_levels": list(levels), "default_seeds": seeds},
        "tasks": [{"name": f"task{i}", "instruction": f"do task {i}", "max_steps": 50,
                   "rewrites": copy.deepcopy(REWRITES)} for i in range(tasks)],
    }))


def grid_results(policy: str, rates: Mapping[str, float] | float = 0.7,
                 suite: GridSuite | None = None, salt: str = "") -> list[EpisodeResult]:
    """One result per case; success with probability `rates[axis]`, drawn per (salt, case)
    so two policies with the same salt share outcomes wherever their rates agree."""
    out = []
    for spec in _specs(suite or _default_suite()):
        key = spec.key
        rng = np.random.default_rng(int.from_bytes(
            hashlib.sha256(f"{salt}|{key.case_id}".encode()).digest()[:8], "little"))
        rate = rates if isinstance(rates, float) else rates.get(key.setting, rates.get("*", 0.7))
        solved = rng.random() < rate
        chunks = int(rng.integers(3, 12))
        out.append(EpisodeResult(
            key=key, status=SUCCESS if solved else FAILURE,
            steps=chunks * 5,
            chunk_latencies_ms=[round(float(x), 3) for x in rng.gamma(9.0, 2.0, chunks)],
            params=dict(spec.params), episode_seed=spec.episode_seed, policy=policy,
            instruction=spec.task.instruction, wall_time_s=float(chunks * 0.05)))
    return out


@functools.cache
def _specs(suite: GridSuite) -> tuple:
    """Drawing parameters runs Hypothesis per case; tests reuse the same grids often."""
    return tuple(suite.episode_spec(key) for key in suite.cases(CaseSelection()))


@functools.cache
def _default_suite() -> GridSuite:
    return grid_suite()
