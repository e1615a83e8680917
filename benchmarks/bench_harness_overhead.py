r"""What the pytest plugin costs on top of the episodes themselves.

    python benchmarks/bench_harness_overhead.py [--tasks lift_cube] \
        [--axes clean,camera,light,noise] [--seeds 3]

The same cases run twice, each in a fresh process: once as a bare loop (build the
suite, then make_env -> run_episode -> close per case) and once through
`pytest --suite ... -p no:xdist`, alternating, `--repeat` times; the fastest of each
is kept, as other load on the machine only ever adds time. Printed: both wall times
and their ratio (goal <= 1.02), and the part of the difference that is pytest's
start-up, which a longer matrix amortises.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SCRIPT = """
import sys, time
t0 = time.perf_counter()
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
suite = registry.make_suite("tabletop")
policy = registry.make_policy("scripted", PolicyContext(suite.env_spec))
tasks, axes = sys.argv[1].split(","), sys.argv[2].split(",")
levels, seeds = [int(x) for x in sys.argv[3].split(",")], int(sys.argv[4])
for key in suite.cases(CaseSelection(tasks, axes, levels, seeds)):
    spec = suite.episode_spec(key)
    env = suite.make_env(spec)
    try:
        run_episode(env, policy, spec)
    finally:
        env.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="lift_cube")
    parser.add_argument("--axes", default="clean,camera,light,noise")
    parser.add_argument("--levels", default="1,3,5")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from _runs import run_plugin

    bares, plugins, startups = [], [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", SCRIPT, args.tasks, args.axes, args.levels,
                        str(args.seeds)], check=True)
        bares.append(time.perf_counter() - start)
        wall, results = run_plugin([
            "--policy=scripted", "--suite=tabletop", f"--tasks={args.tasks}",
            f"--axes={args.axes}", f"--levels={args.levels}", f"--seeds={args.seeds}",
            "-p", "no:xdist", "-k", "test_episode"])
        plugins.append(wall)
        startups.append(_pytest_startup())
    bare, plugin, startup = min(bares), min(plugins), min(startups)
    print(f"episodes: {len(results)}")
    print(f"bare loop (fresh process):  {bare:7.2f} s")
    print(f"pytest plugin (fresh):      {plugin:7.2f} s")
    print(f"ratio plugin/bare:          {plugin / bare:7.3f}   (goal <= 1.02)")
    print(f"pytest start-up alone:      {startup:7.2f} s  "
          f"-> ratio without it: {(plugin - startup) / bare:.3f}")
    print(f"per case: {(plugin - startup - bare) / len(results) * 1000:.0f} ms "
          f"(best of {args.repeat}; load average now {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)")


def _pytest_startup() -> float:
    """`pytest --collect-only` of nothing: the fixed cost of a pytest process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                    "no:cacheprovider", "--noconftest", "/dev/null"],
                   check=False, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
