"""robotwin_plus throughput and oracle ceiling.

    python benchmarks/bench_robotwin.py [--steps 200] [--seeds 10] [--width 160 --height 120]

Prints (1) env steps/s with all three cameras (head + two wrists) rendered every step,
(2) the same rendering once per 5 steps (what the episode runner does with
replan_steps=5), (3) physics-only steps/s, (4) the scripted oracle's clean success per
task (physics only; the oracle reads no image). Wall-clock and per-CPU-second figures:
on a shared machine the second is what one core delivers.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.sims.robotwin.oracle import make_oracle
from pytest_wamrobust.sims.robotwin.suite import make_suite


def _suite(render: bool, width: int = 160, height: int = 120):
    manifest = SuiteManifest.packaged("robotwin_plus")
    options = {"image_width": width, "image_height": height, "render": render}
    return make_suite(dataclasses.replace(manifest, options=options))


def _steps_per_second(env, steps: int, render_every: int) -> tuple[float, float]:
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (steps, 10))
    env.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    for i, action in enumerate(actions):
        env.step(action)
        if render_every and i % render_every == 0:
            env.observe()
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    args = parser.parse_args()

    key = CaseKey("robotwin_plus", "place_dual_blocks", "clean", 0, 0)
    rendered_suite = _suite(True, args.width, args.height)
    env = rendered_suite.make_env(rendered_suite.episode_spec(key))
    env.reset()  # build the scene and compile shaders outside the timing
    every = _steps_per_second(env, args.steps, render_every=1)
    replan = _steps_per_second(env, args.steps, render_every=5)
    env.close()
    physics_suite = _suite(False)
    env = physics_suite.make_env(physics_suite.episode_spec(key))
    physics = _steps_per_second(env, args.steps * 5, render_every=0)
    env.close()

    size = f"{args.width}x{args.height}"
    print(f"{'env steps/s':60s} {'wall':>8s} {'per CPU-s':>10s}")
    for label, (wall, cpu) in (
        (f"3 cameras {size}, rendered every step", every),
        (f"3 cameras {size}, rendered every 5 steps (runner)", replan),
        ("physics only (20 Hz control, 20 substeps of 2.5 ms)", physics),
    ):
        print(f"{label:60s} {wall:8.1f} {cpu:10.1f}")

    print(f"\noracle clean success, {args.seeds} seeds per task (physics only)")
    total = 0
    oracle = make_oracle(PolicyContext(physics_suite.env_spec))
    for task in physics_suite.tasks():
        wins, steps = 0, 0
        for seed in range(args.seeds):
            spec = physics_suite.episode_spec(CaseKey("robotwin_plus", task.name, "clean", 0, seed))
            result = run_episode(physics_suite.make_env(spec), oracle, spec)
            wins += result.status == "success"
            steps += result.steps
        total += wins
        print(f"  {task.name:22s} {wins:3d}/{args.seeds}  mean steps {steps / args.seeds:6.1f}")
    n = args.seeds * len(physics_suite.tasks())
    print(f"  {'all':22s} {total:3d}/{n}  ({100.0 * total / n:.1f}%)")


if __name__ == "__main__":
    main()
