"""Tabletop throughput and oracle ceiling.

    python benchmarks/bench_env_steps.py [--steps 400] [--seeds 5] [--size 128]

Prints (1) env steps/s with both cameras rendered every step (physics + rendering, no
policy), (2) physics-only steps/s, (3) the scripted oracle's clean success per task.
One process = one core; the episode runner renders only every replan_steps actions,
so real episodes run faster than (1).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.scripted import make_policy
from pytest_wamrobust.sims.tabletop.suite import make_suite


def _steps_per_second(env, steps: int, render: bool) -> tuple[float, float]:
    """(per wall-clock second, per CPU second of this process): on a shared machine the
    second is the per-core throughput, the first what the contention left of it."""
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.3, 0.3, (steps, 7))
    env.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        env.step(action)
        if render:
            env.observe()
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()

    suite = make_suite()
    suite = make_suite(replace(suite.manifest, options={"image_size": args.size}))
    spec = suite.episode_spec(CaseKey("tabletop", "cube_on_plate", "clean", 0, 0))
    env = suite.make_env(spec)
    env.reset()
    env.observe()  # create the renderer outside the timing
    rendered = _steps_per_second(env, args.steps, render=True)
    physics = _steps_per_second(env, args.steps, render=False)
    env.close()
    print(f"{'env steps/s':52s} {'wall':>8s} {'per CPU-s':>10s}")
    print(f"{f'tabletop {args.size}px, 2 cameras, physics + rendering':52s} "
          f"{rendered[0]:8.1f} {rendered[1]:10.1f}")
    print(f"{'tabletop physics only (20 Hz control, 25 substeps)':52s} "
          f"{physics[0]:8.1f} {physics[1]:10.1f}")

    print(f"\nscripted oracle, clean, {args.seeds} seeds per task:")
    for task in suite.tasks():
        wins, steps, wall = 0, [], 0.0
        for j in range(args.seeds):
            spec = suite.episode_spec(CaseKey("tabletop", task.name, "clean", 0, j))
            env = suite.make_env(spec)
            result = run_episode(env, make_policy(PolicyContext(suite.env_spec)), spec)
            env.close()
            wins += result.status == "success"
            steps.append(result.steps)
            wall += result.wall_time_s
        print(f"  {task.name:15s} {wins}/{args.seeds}  mean steps {np.mean(steps):6.1f}  "
              f"{wall / args.seeds:5.2f} s/episode")


if __name__ == "__main__":
    main()
