"""Breaking-point search against the level grid and uniform random sampling, at equal
rollout budgets per (task, axis), on the tabletop suite.

    python benchmarks/bench_search.py [--tasks 4 | --tasks lift_cube,open_drawer]
                                      [--budget 30] [--axes camera,light] [--policy tiny-vla]
                                      [--scenes K] [--out DIR]

For every (task, axis), `--budget` rollouts each for
  (a) the search: core.search.breaking_point.run_search (Hypothesis' engine, target(),
      shrinking), at most budget-1 examples and shrinks plus the final replay of the failure;
  (b) the grid: the cases the plugin runs, levels 1-5 x budget/5 seeds; a failure at
      level L says "breaks by m = L/5" (its fifth's far edge; the fifth's near edge
      (L-1)/5 + 0.01, the grid's best case, is printed beside it);
  (c) uniform random: m uniform on the search's 0.01 grid in (0, 1], the axis' other
      parameters drawn at that m, a scene of the search's range.
The search and the random sampler pick from `--scenes` scenes (the plugin's `--seeds`;
default: the grid's seeds per level, so all three explore the same scenes; 1 is the
tabletop suite's default, what `pytest --wam-search` does without --seeds).
It prints, per (task, axis), the smallest failing magnitude each found, then the pairs
with a failure per method, the median relative reduction of the search's smallest m
(a method that found none counts m = 1, the plugin's convention), the goal's verdict,
the time per search, and then replays every failure the searches kept through the
plugin (`pytest --wam-replay`) and counts those that fail again.
One process, one torch thread (the plugin's setting per worker).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _runs import run_plugin
from hypothesis.database import DirectoryBasedExampleDatabase

from pytest_wamrobust.core.cases import sampling
from pytest_wamrobust.core.cases.axes import get_axis
from pytest_wamrobust.core.cases.seeding import derive_seed, rng_for
from pytest_wamrobust.core.model.protocols import Suite
from pytest_wamrobust.core.model.types import AXES, LEVELS, MAGNITUDE_STEPS, CaseKey, TaskSpec
from pytest_wamrobust.core.running.player import PolicySlot
from pytest_wamrobust.core.search.breaking_point import (
    Example,
    SearchKey,
    axis_ranges,
    play_example,
    run_search,
    scene_count,
)
from pytest_wamrobust.core.search.replay import save_failure
from pytest_wamrobust.sims.tabletop.suite import make_suite

#: The issue's goal: the search's smallest failing m lower by a median of this much.
GOAL_REDUCTION = 0.30


def search(suite: Suite, slot: PolicySlot, key: SearchKey, task: TaskSpec, budget: int,
           scenes: int, database: DirectoryBasedExampleDatabase
           ) -> tuple[float | None, int, float, object]:
    started = time.perf_counter()
    result = run_search(key, task, axis_ranges(suite, key.axis), scenes,
                        lambda spec: play_example(suite, slot, spec), max_examples=budget - 1,
                        shrink_rollouts=0, database=database, policy=slot.current().metadata.name)
    if result.errored:
        sys.exit(result.summary())
    assert result.examples <= budget, (key, result.examples)
    return (result.breaking_magnitude if result.found else None, result.examples,
            time.perf_counter() - started, result)


def grid(suite: Suite, slot: PolicySlot, key: SearchKey, budget: int) -> int | None:
    """The lowest level with an unsolved case among budget cases of levels 1-5."""
    failed = []
    for level in LEVELS:
        seeds = budget // len(LEVELS) + (level <= budget % len(LEVELS))
        for j in range(seeds):
            spec = suite.episode_spec(CaseKey(key.suite, key.task, key.axis, level, j))
            if not play_example(suite, slot, spec).result.success:
                failed.append(level)
                break  # the level's other seeds cannot lower it: skipped, counted as spent
    return min(failed) if failed else None


def uniform(suite: Suite, slot: PolicySlot, key: SearchKey, task: TaskSpec,
            budget: int, scenes: int) -> float | None:
    axis, ranges = get_axis(key.axis), axis_ranges(suite, key.axis)
    rng = rng_for(derive_seed(CaseKey(key.suite, key.task, key.axis, 0, 0), "bench-uniform"))
    smallest = None
    for _ in range(budget):
        m = int(rng.integers(1, MAGNITUDE_STEPS, endpoint=True)) / MAGNITUDE_STEPS
        if smallest is not None and m >= smallest:
            continue  # cannot lower the smallest failure: skipped, counted as spent
        params = sampling.draw(axis.at_magnitude(m, ranges), int(rng.integers(2**31)))
        example = Example(m, params, int(rng.integers(scenes)))
        if not play_example(suite, slot, example.spec(key, task)).result.success:
            smallest = m
    return smallest


def reduction(search_m: float | None, other_m: float | None) -> float | None:
    """1 - search/other, a method that found nothing counting m = 1; None if neither did."""
    if search_m is None and other_m is None:
        return None
    return 1.0 - (search_m if search_m is not None else 1.0) / (
        other_m if other_m is not None else 1.0)


def fmt(m: float | None) -> str:
    return ">=1" if m is None else f"{m:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="4", help="N (the suite's first N) or a comma list")
    parser.add_argument("--axes", default=",".join(AXES))
    parser.add_argument("--budget", type=int, default=30, help="rollouts per (task, axis) "
                        "and method (at least 5: one per level)")
    parser.add_argument("--policy", default="tiny-vla")
    parser.add_argument("--scenes", type=int, default=None, help="scenes the search and "
                        "the random sampler pick from (default: the grid's seeds per level)")
    parser.add_argument("--out", default=None, help="folder for results.json and the "
                        "kept failures (default: a temporary one, removed at the end)")
    args = parser.parse_args()
    if args.budget < len(LEVELS):
        parser.error(f"--budget must be at least {len(LEVELS)}")
    suite = make_suite()
    names = [t.name for t in suite.tasks()]
    tasks = names[:int(args.tasks)] if args.tasks.isdigit() else args.tasks.split(",")
    axes = args.axes.split(",")
    scenes = args.scenes or scene_count(suite, -(-args.budget // len(LEVELS)))
    slot = PolicySlot(args.policy, suite, {})
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-search-"))
    examples = out / "examples"
    database = DirectoryBasedExampleDatabase(str(out / "hypothesis-db"))
    print(f"{args.policy} on tabletop: {len(tasks)} tasks x {len(axes)} axes, "
          f"{args.budget} rollouts per (task, axis) and method, {scenes} scene(s); kept "
          f"failures in {examples}")
    print(f"{'task':16s} {'axis':11s} {'search':>7s} {'ex':>3s} {'s':>6s} "
          f"{'grid':>5s} {'(near)':>6s} {'random':>7s}")
    rows = []
    started = time.perf_counter()
    for task_name in tasks:
        task = next(t for t in suite.tasks() if t.name == task_name)
        for axis in axes:
            key = SearchKey(suite.name, task_name, axis)
            found, used, seconds, result = search(suite, slot, key, task, args.budget, scenes,
                                                   database)
            save_failure(examples, result)  # type: ignore[arg-type]
            level = grid(suite, slot, key, args.budget)
            random_m = uniform(suite, slot, key, task, args.budget, scenes)
            row = {"task": task_name, "axis": axis, "search": found, "search_rollouts": used,
                   "search_s": round(seconds, 1),
                   "grid": None if level is None else level / len(LEVELS),
                   "grid_near": None if level is None else (level - 1) / len(LEVELS) + 0.01,
                   "random": random_m}
            rows.append(row)
            print(f"{task_name:16s} {axis:11s} {fmt(found):>7s} {used:3d} {seconds:6.1f} "
                  f"{fmt(row['grid']):>5s} {fmt(row['grid_near']):>6s} {fmt(random_m):>7s}",
                  flush=True)
    total_s = time.perf_counter() - started

    print(f"\n{len(rows)} (task, axis) pairs, {args.budget} rollouts each per method, "
          f"{total_s / 60:.1f} min")
    goal = True
    for method in ("grid", "grid_near", "random"):
        pairs = {m: sum(r[m] is not None for r in rows) for m in ("search", method)}
        cuts = [c for r in rows if (c := reduction(r["search"], r[method])) is not None]
        both = [1 - r["search"] / r[method] for r in rows
                if r["search"] is not None and r[method] is not None]
        median = statistics.median(cuts) if cuts else float("nan")
        print(f"search vs {method:9s}: failures found in {pairs['search']} vs {pairs[method]} "
              f"pairs; smallest m lower by a median of {median:.0%} over {len(cuts)} pairs "
              f"(where both found one: {statistics.median(both) if both else float('nan'):.0%}"
              f" over {len(both)})")
        if method != "grid_near":
            goal &= pairs["search"] >= pairs[method] and median >= GOAL_REDUCTION
    clean = [r for r in rows if r["search"] == 0.0]
    if clean:  # the scene fails unperturbed: the grid blames its level-1 draw instead
        rest = [r for r in rows if r["search"] != 0.0]
        cuts = {m: [c for r in rest if (c := reduction(r["search"], r[m])) is not None]
                or [float("nan")] for m in ("grid", "random")}
        print(f"{len(clean)} pairs break at m = 0 (a scene the policy fails unperturbed); "
              f"without them the median reduction is {statistics.median(cuts['grid']):.0%} "
              f"vs grid, {statistics.median(cuts['random']):.0%} vs random")
    times = [r["search_s"] for r in rows]
    print(f"time per (task, axis) search: median {statistics.median(times):.1f} s, "
          f"max {max(times):.1f} s ({statistics.fmean(r['search_rollouts'] for r in rows):.1f} "
          f"rollouts on average)")
    print(f"goal (search finds failures in >= as many pairs as grid and random, smallest m "
          f"lower by a median >= {GOAL_REDUCTION:.0%}): {'MET' if goal else 'NOT MET'}")

    kept = sorted(examples.rglob("*.json")) if examples.exists() else []
    replay: dict[str, object] = {"kept": len(kept)}
    if kept:
        wall, results = run_plugin([f"--suite={suite.name}", f"--policy={args.policy}",
                                    f"--tasks={','.join(tasks)}", f"--axes={','.join(axes)}",
                                    f"--wam-examples={examples.resolve()}", "-k",
                                    "test_episode", "--wam-replay"])
        stored = {json.dumps(json.loads(p.read_text())["params"], sort_keys=True) for p in kept}
        failing = [r for r in results if r.status == "failure"]
        same = sum(json.dumps(r.params, sort_keys=True) in stored for r in failing)
        replay.update(cases=len(results), failed_again=len(failing), same_params=same,
                      wall_s=round(wall, 1))
        print(f"replay (pytest --wam-replay): {len(failing)} of {len(kept)} kept failures "
              f"fail again ({same} with the stored parameters), {len(results)} cases, "
              f"{wall:.0f} s")
    if args.out is None:
        shutil.rmtree(out)
        return
    (out / "results.json").write_text(json.dumps(
        {"policy": args.policy, "tasks": tasks, "axes": axes, "budget": args.budget,
         "scenes": scenes,
         "minutes": round(total_s / 60, 1), "rows": rows, "replay": replay}, indent=1))
    print(f"wrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
