"""How fast the real LIBERO-Plus benchmark runs on this machine.

Run inside .venv-libero:
    .venv-libero/bin/python benchmarks/bench_libero_plus.py [--envs 2] [--smoke 1 --max-steps 40]

Measures enumeration, env build, protocol reset (seed, init state, 10 no-ops), physics
steps/s without rendering, one observation (two 256 px cameras), the env steps/s a
policy sees when it looks every 5 steps (openpi's replan) and every step, the wall time
of the stratified smoke sample (k per axis x level) with the `noop` policy, and the
variants per axis that run with the assets on this machine. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np

from pytest_wamrobust.core.cases.sharding import stratified_sample
from pytest_wamrobust.core.model.errors import CaseUnavailableError
from pytest_wamrobust.core.model.protocols import CaseSelection
from pytest_wamrobust.core.model.types import EpisodeSpec, PolicyMetadata
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.sims.libero_plus.protocol import NOOP_ACTION
from pytest_wamrobust.sims.libero_plus.suite import LiberoPlusSuite
from pytest_wamrobust.sims.libero_plus.variants import Catalog


class _Hold:
    """LIBERO's no-op (hold still, gripper open), chunked like pi0.5 (10, replan 5)."""

    metadata = PolicyMetadata(name="hold", chunk_length=10, replan_steps=5, family="baseline")

    def reset(self, task: str, seed: int) -> None:
        pass

    def infer(self, observation) -> np.ndarray:
        return np.tile(NOOP_ACTION, (10, 1))


def _timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def bench_env(suite: LiberoPlusSuite, key, steps: int) -> dict[str, float]:
    spec = suite.episode_spec(key)
    env, build_s = _timed(lambda: suite.make_env(spec))
    try:
        _, reset_s = _timed(env.reset)
        action = np.zeros(7)
        _, physics_s = _timed(lambda: [env.step(action) for _ in range(steps)])
        _, observe_s = _timed(lambda: [env.observe() for _ in range(5)])

        def replan(every: int) -> float:
            t0 = time.perf_counter()
            for i in range(steps):
                env.step(action)
                if (i + 1) % every == 0:
                    env.observe()
            return steps / (time.perf_counter() - t0)

        return {"build_s": build_s, "reset_s": reset_s,
                "physics_steps_per_s": steps / physics_s, "observe_s": observe_s / 5,
                "steps_per_s_observe_every_5": replan(5),
                "steps_per_s_observe_every_step": replan(1)}
    finally:
        env.close()


def bench_smoke(suite: LiberoPlusSuite, k: int, max_steps: int | None) -> dict[str, object]:
    keys = stratified_sample(list(suite.cases(CaseSelection())), k)
    outcomes: Counter[str] = Counter()
    errors: dict[str, str] = {}
    t0 = time.perf_counter()
    for key in keys:
        spec = suite.episode_spec(key)
        if max_steps is not None:
            spec = EpisodeSpec(key=spec.key, task=_capped(spec, max_steps), params=spec.params,
                               episode_seed=spec.episode_seed)
        try:
            env = suite.make_env(spec)
        except CaseUnavailableError:
            outcomes["skipped_missing_assets"] += 1
            continue
        try:
            result = run_episode(env, _Hold(), spec)
        finally:
            env.close()
        outcomes[result.status] += 1
        if result.error:
            errors[key.case_id] = result.error
    return {"cases": len(keys), "k_per_axis_level": k, "max_steps": max_steps or "protocol",
            "wall_s": time.perf_counter() - t0, "outcomes": dict(outcomes), "errors": errors}


def _capped(spec: EpisodeSpec, max_steps: int):
    from dataclasses import replace

    return replace(spec.task, max_steps=min(max_steps, spec.task.max_steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=2, help="variants to time (different axes)")
    parser.add_argument("--steps", type=int, default=50, help="env steps per timing")
    parser.add_argument("--smoke", type=int, default=0, help="k of the smoke sample; 0 skips it")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="cap the smoke episodes' step limit (default: the protocol's)")
    args = parser.parse_args()

    catalog, enum_s = _timed(Catalog.load)
    suite = LiberoPlusSuite(catalog)
    keys, cases_s = _timed(lambda: list(suite.cases(CaseSelection())))
    report: dict[str, object] = {
        "enumerate_s": enum_s + cases_s,
        "variants": len(keys),
        "runnable_per_axis": catalog.runnable_counts(),
    }
    axes = ["camera", "robot_init", "noise", "language", "layout"][: args.envs]
    envs = {}
    for axis in axes:
        key = next(k for k in suite.cases(CaseSelection(settings=[axis], tasks=["libero_spatial"]))
                   if not suite.variant(k).needs_extra_assets)
        envs[key.case_id] = bench_env(suite, key, args.steps)
    report["envs"] = envs
    if args.smoke:
        report["smoke"] = bench_smoke(suite, args.smoke, args.max_steps)
    print(json.dumps(_rounded(report), indent=2))


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


if __name__ == "__main__":
    main()
