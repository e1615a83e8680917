"""Wall time of the same case matrix with `-n 2` against `-n 1` (goal: >= 1.8x).

    python benchmarks/bench_xdist_speedup.py [--tasks lift_cube,close_drawer] [--levels 1,5]

Both runs start one fresh pytest and the same number of scenes; they differ only in
the number of xdist workers. On a machine whose two cores are busy with other work
the speedup is bounded by the idle core time, so note the load next to the figure.
"""

from __future__ import annotations

import argparse
import os

from _runs import run_plugin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="lift_cube,close_drawer")
    parser.add_argument("--axes", default="clean,camera,light,noise,layout")
    parser.add_argument("--levels", default="1,5")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    matrix = ["--policy=scripted", "--suite=tabletop", f"--tasks={args.tasks}",
              f"--axes={args.axes}", f"--levels={args.levels}", f"--seeds={args.seeds}",
              "-k", "test_episode"]
    load = os.getloadavg()[0]
    one, results_one = run_plugin([*matrix, "-n", "1"])
    two, results_two = run_plugin([*matrix, "-n", "2"])
    same = sorted((r.key, r.status, r.steps) for r in results_one) == sorted(
        (r.key, r.status, r.steps) for r in results_two)
    print(f"episodes: {len(results_one)}  "
          f"(load average before: {load:.1f} on {os.cpu_count()} cores)")
    print(f"-n 1: {one:7.2f} s")
    print(f"-n 2: {two:7.2f} s")
    print(f"speedup: {one / two:.2f}x  (goal >= 1.8x); identical outcomes: {same}")


if __name__ == "__main__":
    main()
