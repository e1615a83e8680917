"""Clean success and per-chunk latency of tiny-vla / tiny-wam on held-out tabletop scenes.

    python benchmarks/bench_tiny_policies.py [--seeds 5] [--policies tiny-vla tiny-wam]
                                             [--tasks lift_cube ...] [--weights DIR]

Seed indices 0..N-1 are the test grid's scenes; demos come from seed indices >= 100000
(pytest_wamrobust.policies.tiny.demos), so every scene here is unseen in training.
Prints success per task with a Wilson 95% interval, latency p50/p95 per chunk and the
weight file size. One process, one torch thread (the plugin's setting per worker).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pytest_wamrobust.core.judging.stats import wilson_interval
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.registry import make_policy
from pytest_wamrobust.core.model.types import CLEAN, CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.tiny.checkpoint import packaged_dir
from pytest_wamrobust.sims.tabletop.suite import make_suite


def evaluate(name: str, seeds: int, tasks: list[str], options: dict[str, str]) -> None:
    suite = make_suite()
    policy = make_policy(name, PolicyContext(suite.env_spec, options))
    latencies: list[float] = []
    total = wins = 0
    started = time.perf_counter()
    for task in tasks:
        outcomes = []
        for j in range(seeds):
            spec = suite.episode_spec(CaseKey(suite.name, task, CLEAN, 0, j))
            env = suite.make_env(spec)
            try:
                result = run_episode(env, policy, spec)
            finally:
                env.close()
            if result.error:
                print(f"  {spec.case_id}: {result.error}")
            outcomes.append(result.success)
            latencies += result.chunk_latencies_ms
        total, wins = total + len(outcomes), wins + sum(outcomes)
        print(f"  {name} {task:16s} {sum(outcomes)}/{len(outcomes)}", flush=True)
    low, high = wilson_interval(wins, total)
    size = (Path(options.get("weights") or packaged_dir()) / f"{name}.safetensors").stat().st_size
    print(f"{name}: clean {wins}/{total} = {100 * wins / total:.1f}% "
          f"(95% CI {100 * low:.1f}-{100 * high:.1f}), latency per chunk p50 "
          f"{np.percentile(latencies, 50):.1f} ms p95 {np.percentile(latencies, 95):.1f} ms "
          f"({len(latencies)} chunks), weights {size / 1e6:.1f} MB, "
          f"wall {time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="held-out scenes per task")
    parser.add_argument("--policies", nargs="+", default=["tiny-vla", "tiny-wam"])
    parser.add_argument("--tasks", nargs="*", help="default: all tabletop tasks")
    parser.add_argument("--weights",
                        help="folder of <policy>.safetensors/.json (default: packaged)")
    args = parser.parse_args()
    tasks = args.tasks or [t.name for t in make_suite().tasks()]
    options = {"weights": args.weights} if args.weights else {}
    for name in args.policies:
        evaluate(name, args.seeds, tasks, options)


if __name__ == "__main__":
    main()
