"""The tests `--suite` generates; collected by the plugin as the module `wamrobust`.

`test_episode[tabletop/pick_cube/camera/L3/s07]` passes iff the policy solves the
task; `test_latency[<policy>]` times `policy.infer` with pytest-benchmark;
`test_search[tabletop/pick_cube/light]` (with --wam-search) searches the axis for the
smallest perturbation that breaks the policy and passes by `min_breaking_magnitude`.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import CLEAN, CaseKey
from pytest_wamrobust.core.running.deadline import InferTimeout, call_with_deadline
from pytest_wamrobust.core.running.player import PolicySlot
from pytest_wamrobust.core.search.breaking_point import SearchResult, breaking_failure
from pytest_wamrobust.plugin.episode_fixtures import current_policy
from pytest_wamrobust.plugin.run import WamRun
from pytest_wamrobust.plugin.search import search_result  # noqa: F401 - its fixture


def test_episode(episode_result: EpisodeResult) -> None:
    if not episode_result.success:
        pytest.fail(f"task not solved ({episode_result.describe()})", pytrace=False)


def test_search(search_result: SearchResult,  # noqa: F811 - the fixture imported above
                wam_run: WamRun) -> None:
    failed = breaking_failure(search_result, wam_run.thresholds)
    if failed:
        pytest.fail(failed, pytrace=False)


def test_latency(benchmark, policy_slot: PolicySlot, suite, wam_run: WamRun,
                 policy_name: str) -> None:
    """Per-chunk inference time on a real observation: the reset of the first task's
    clean scene. pytest-benchmark switches itself off under xdist (and so in the
    isolated worker a run without -n plays in); a disabled benchmark is reported as
    skipped, never as a measurement. Each call has the episodes' deadline."""
    if benchmark.disabled:
        pytest.skip("latency benchmark disabled (xdist, the isolated worker, or "
                    "--benchmark-disable); rerun with -p no:xdist to measure it")
    if wam_run.simulator is not None:  # --wam-ray from a Python without the simulator
        pytest.skip(f"the suite's scene builds only in {wam_run.simulator.python}; the "
                    f"episodes' own per-chunk times judge the latency gate (run pytest "
                    f"there with -p no:xdist to benchmark it)")
    policy = current_policy(policy_slot)
    task = suite.tasks()[0].name
    spec = suite.episode_spec(CaseKey(suite.name, task, CLEAN, 0, 0))
    env = suite.make_env(spec)
    try:
        observation = env.reset()
    finally:
        env.close()
    deadline, name = wam_run.options.infer_deadline_s, policy.metadata.name
    try:
        call_with_deadline(partial(policy.reset, task, spec.episode_seed), deadline, name,
                           "reset")
        benchmark(call_with_deadline, partial(policy.infer, observation), deadline, name)
    except InferTimeout as exc:
        policy_slot.discard()
        message = str(exc)
    else:
        message = ""
    if message:  # outside `except`: one line, no "During handling of" chain
        pytest.fail(message, pytrace=False)
    timings_ms = np.asarray(benchmark.stats.stats.data) * 1000.0
    for stat, q in gates.LATENCY_STATS.items():
        benchmark.extra_info[f"{stat}_ms"] = float(np.percentile(timings_ms, q))
    stat = wam_run.thresholds.latency_statistic
    observed = benchmark.extra_info[f"{stat}_ms"]
    limit = wam_run.thresholds.max_chunk_latency_ms
    if limit is not None and observed > limit:
        pytest.fail(f"policy {policy_name}: {stat} chunk latency {observed:.1f} ms > "
                    f"max_chunk_latency_ms {limit:g}", pytrace=False)
