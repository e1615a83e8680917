r"""Success of the privileged `scripted` oracle on the real LIBERO-Plus benchmark.

Run inside .venv-libero:
    .venv-libero/bin/python benchmarks/bench_libero_oracle.py \
        --tasks libero_spatial,libero_object --seeds 3
    .venv-libero/bin/python benchmarks/bench_libero_oracle.py \
        --tasks libero_spatial,libero_object --axes robot_init,layout --variants 1

Each episode is the harness's own (`run_episode`: the standard protocol's reset, ten
no-op steps, the sub-suite's step limit, both cameras rendered whenever the policy
looks), driven by `--policy=scripted`'s oracle for the suite, built through the entry
point. Clean: every task of the sub-suites x `--seeds` of LIBERO's recorded init states
(0..N-1; the protocol's clean case is init state 0). Perturbed axes: `--variants` per
task and axis, spread over the levels, skipping variants whose assets are not on PyPI.
Prints a table per (sub-suite, setting) with Wilson 95% intervals and env steps/s, then
the failed episodes; `--json FILE` writes every episode.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

from pytest_wamrobust.core.judging.stats import wilson_interval
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.model.results import ERROR, SUCCESS
from pytest_wamrobust.core.model.types import CLEAN
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.scripted import make_policy
from pytest_wamrobust.sims.libero_plus.env import LiberoPlusEnv
from pytest_wamrobust.sims.libero_plus.suite import LiberoPlusSuite


def _spread(items: list, k: int) -> list:
    """k items evenly spread over a list (sorted by level), first and last included."""
    if k >= len(items):
        return items
    if k == 1:
        return [items[len(items) // 2]]
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def episodes(suite: LiberoPlusSuite, sub_suites: list[str], axes: list[str], seeds: int,
             variants: int, max_tasks: int | None):
    """(group, case key, init state index) in a stable order."""
    for sub in sub_suites:
        tasks = [t.name for t in suite.tasks() if t.group == sub][:max_tasks]
        for axis in axes:
            for task in tasks:
                if axis == CLEAN:
                    key = next(iter(suite.cases(CaseSelection(settings=[CLEAN], tasks=[task]))))
                    for seed in range(seeds):
                        yield (sub, axis), key, seed
                    continue
                keys = [k for k in suite.cases(CaseSelection(settings=[axis], tasks=[task]))
                        if suite.catalog.extra_assets_present(suite.variant(k))]
                keys.sort(key=lambda k: (k.level, k.seed_index))
                for key in _spread(keys, variants):
                    yield (sub, axis), key, 0


def run(suite: LiberoPlusSuite, key, init_state: int, policy) -> dict:
    spec = suite.episode_spec(key)
    t0 = time.perf_counter()
    env = LiberoPlusEnv(suite.catalog, suite.variant(key), spec, init_state_index=init_state)
    try:
        result = run_episode(env, policy, spec)
    finally:
        env.close()
    wall = time.perf_counter() - t0
    return {"case": key.case_id, "init_state": init_state, "status": result.status,
            "steps": result.steps, "wall_s": round(wall, 2),
            "episode_s": round(result.wall_time_s, 2), "error": result.error}


def table(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in rows:
        by[(r["sub_suite"], r["setting"])].append(r)
    lines = [f"{'sub-suite':16s} {'setting':11s} {'n':>4s} {'succ':>5s} {'err':>4s} "
             f"{'success':>8s}  {'95% CI':17s} {'steps to success':>16s} {'env steps/s':>11s}"]
    for (sub, setting), group in by.items():
        n, ok = len(group), sum(r["status"] == SUCCESS for r in group)
        err = sum(r["status"] == ERROR for r in group)
        lo, hi = wilson_interval(ok, n)
        won = [r["steps"] for r in group if r["status"] == SUCCESS]
        mean_steps = f"{sum(won) / len(won):.0f}" if won else "-"
        rate = sum(r["steps"] for r in group) / max(sum(r["episode_s"] for r in group), 1e-9)
        lines.append(f"{sub:16s} {setting:11s} {n:4d} {ok:5d} {err:4d} {100 * ok / n:7.1f}%  "
                     f"[{100 * lo:5.1f}%, {100 * hi:5.1f}%] {mean_steps:>16s} {rate:11.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="libero_spatial,libero_object",
                    help="sub-suites, comma-separated")
    ap.add_argument("--axes", default=CLEAN, help="clean and/or perturbed axes")
    ap.add_argument("--seeds", type=int, default=3,
                    help="clean: LIBERO init states 0..N-1 per task")
    ap.add_argument("--variants", type=int, default=1,
                    help="perturbed axes: variants per task and axis, spread over levels")
    ap.add_argument("--max-tasks", type=int, default=None, help="first N tasks per sub-suite")
    ap.add_argument("--json", default=None, help="write every episode to this file")
    args = ap.parse_args(argv)

    suite = LiberoPlusSuite()
    policy = make_policy(PolicyContext(env_spec=suite.env_spec))
    rows, started = [], time.perf_counter()
    plan = list(episodes(suite, args.tasks.split(","), args.axes.split(","), args.seeds,
                         args.variants, args.max_tasks))
    for i, ((sub, setting), key, init_state) in enumerate(plan, 1):
        row = run(suite, key, init_state, policy)
        row.update(sub_suite=sub, setting=setting)
        rows.append(row)
        print(f"[{i}/{len(plan)}] {row['case']} init {init_state}: {row['status']} "
              f"in {row['steps']} steps ({row['wall_s']} s)", file=sys.stderr, flush=True)
    print(table(rows))
    failed = [r for r in rows if r["status"] != SUCCESS]
    for r in failed:
        print(f"  not solved: {r['case']} init {r['init_state']} ({r['status']}"
              f"{': ' + r['error'] if r['error'] else ''})")
    print(f"{len(rows)} episodes in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
