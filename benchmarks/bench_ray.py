"""Wall time of the default tabletop matrix with `--wam-ray` against `-n 2`, and the outcome
of every case under both (goal: ray/xdist <= 1.15, identical status and steps per case id).

    python benchmarks/bench_ray.py [--repeat 2] [--policy tiny-vla] [--tasks lift_cube,...]
                                   [--address HOST:PORT] [--two-node]

Each run is the whole `pytest --suite=tabletop --policy=...` command in a fresh
interpreter, as a user sees it; the two ways alternate (ABBA) so a change in the
machine's load hits both. `--address` runs the Ray side against a cluster you started;
`--two-node` starts a head and a second `ray start` node (one CPU each, a token of their
own, a temporary directory of their own, stopped by pattern afterwards) and checks that
every case is recorded. Outside the episodes: the wall time minus the episode time
summed over both workers, halved (what Ray start, actor start, round trips and the
session's own tests cost). Exit 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _runs import run_plugin

from pytest_wamrobust.distributed.local_cluster import LocalCluster

GOAL = 1.15
WORKERS = 2


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def collected(matrix: list[str]) -> int:
    """Episode cases `pytest <matrix>` collects (the latency case left out)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                               "-p", "no:cacheprovider", *matrix], cwd=tmp, check=False,
                              capture_output=True, text=True)
    return sum(line.startswith("wamrobust::test_episode[") for line in done.stdout.splitlines())


def timed(name: str, args: list[str]) -> tuple[float, dict]:
    """One whole pytest run: its wall time and {case id: (status, steps)}."""
    before = load()
    wall, results = run_plugin(args)
    inside = sum(r.wall_time_s for r in results) / WORKERS
    nodes = {r.extra["ray_actor"].split(" pid ")[0] for r in results if r.extra.get("ray_actor")}
    where = f", {len(nodes)} Ray node(s)" if nodes else ""
    print(f"{name:<8} {wall:7.2f} s  {len(results)} cases{where}; outside the episodes "
          f"{wall - inside:6.2f} s; load {before} -> {load()}", flush=True)
    return wall, {r.key.case_id: (r.status, r.steps) for r in results}


@contextmanager
def two_nodes() -> Iterator[str]:
    """A `ray start` head and a second node, one CPU each; yields the address. The run
    reaches it with this process's environment (the cluster's token set in it)."""
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="wamrobust-bench-ray-")))
    os.environ.update(cluster.env)
    try:
        cluster.start(second_node=True)
    except RuntimeError as exc:  # a `ray start` that failed: its output, one message
        cluster.stop()
        sys.exit(str(exc))
    try:
        yield cluster.address
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way (ABBA order)")
    parser.add_argument("--policy", default="tiny-vla")
    parser.add_argument("--tasks", help="a narrower matrix (default: all 192 default cases)")
    parser.add_argument("--address", help="run --wam-ray against this cluster")
    parser.add_argument("--two-node", action="store_true",
                        help="also run on a local head + second node and check every case")
    args = parser.parse_args()
    matrix = ["--suite=tabletop", f"--policy={args.policy}"]
    matrix += [f"--tasks={args.tasks}"] if args.tasks else []
    ray_flag = f"--wam-ray={args.address}" if args.address else "--wam-ray"
    cases = collected(matrix)
    print(f"{cases} episode cases (pytest {' '.join(matrix)}), {os.cpu_count()} cores")
    walls: dict[str, list[float]] = {"-n 2": [], ray_flag: []}
    outcomes: dict[str, dict] = {}
    for i in range(args.repeat):
        order = ["-n 2", ray_flag] if i % 2 == 0 else [ray_flag, "-n 2"]
        for way in order:
            wall, outcomes[f"{way} {i}"] = timed(way, [*matrix, *way.split()])
            walls[way].append(wall)
    reference = outcomes["-n 2 0"]
    same = all(each == reference for each in outcomes.values())
    complete = len(reference) == cases
    best = min(walls[ray_flag]) / min(walls["-n 2"])
    mean = sum(walls[ray_flag]) / sum(walls["-n 2"])
    print(f"ratio {ray_flag}/-n 2: best {best:.3f}, mean {mean:.3f} (goal <= {GOAL}): "
          f"{'met' if best <= GOAL else 'NOT met'}")
    print(f"identical outcomes (status + steps) for all {len(reference)} case ids: {same}")
    ok = best <= GOAL and same and complete
    if args.two_node:
        with two_nodes() as address:
            _, on_two = timed("2 nodes", [*matrix, f"--wam-ray={address}"])
        recorded = set(on_two) == set(reference)
        print(f"two-node cluster: {len(on_two)} of {cases} cases recorded: {recorded}; "
              f"identical outcomes: {on_two == reference}")
        ok = ok and recorded and on_two == reference
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
