"""What the isolated worker costs a run without -n.

Without -n the plugin plays the episodes in one xdist worker, so a policy that hangs in
native code, exits or crashes its interpreter costs its case and not the session. This
times the default tabletop matrix (tiny-vla, 192 episodes) both ways in one sitting,
paired and alternating: isolated (no -n) and `--wam-in-process`. It prints the wall
ratio of each pair and of the medians, and checks that both give the same outcome per
case. Goal: ratio <= 1.02.

    python benchmarks/bench_isolation.py [--pairs 1] [--tasks lift_cube,...]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from _runs import run_plugin

GOAL = 1.02


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--policy", default="tiny-vla")
    parser.add_argument("--tasks", default=None, help="narrow the matrix (default: all 8)")
    args = parser.parse_args()
    select = [f"--policy={args.policy}", "--suite=tabletop", "--benchmark-disable"]
    if args.tasks:
        select.append(f"--tasks={args.tasks}")
    ratios, isolated_walls, in_process_walls = [], [], []
    for pair in range(args.pairs):
        order = ["isolated", "in-process"] if pair % 2 == 0 else ["in-process", "isolated"]
        walls, outcomes = {}, {}
        for mode in order:
            extra = ["--wam-in-process"] if mode == "in-process" else []
            walls[mode], results = run_plugin([*select, *extra])
            outcomes[mode] = {str(r.key): r.status for r in results}
        if outcomes["isolated"] != outcomes["in-process"]:
            differ = [k for k in outcomes["isolated"]
                      if outcomes["isolated"][k] != outcomes["in-process"].get(k)]
            print(f"outcomes differ in {len(differ)} cases, e.g. {differ[:3]}")
            return 1
        ratio = walls["isolated"] / walls["in-process"]
        ratios.append(ratio)
        isolated_walls.append(walls["isolated"])
        in_process_walls.append(walls["in-process"])
        print(f"pair {pair + 1}: isolated {walls['isolated']:.1f} s, in-process "
              f"{walls['in-process']:.1f} s, ratio {ratio:.3f} "
              f"({len(outcomes['isolated'])} cases, same outcome each)")
    ratio = statistics.median(isolated_walls) / statistics.median(in_process_walls)
    print(f"isolated / in-process wall, medians: {ratio:.3f} (goal <= {GOAL}: "
          f"{'met' if ratio <= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
