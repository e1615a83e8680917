"""What serving a policy over openpi's websocket protocol costs, and how it fails.

    python benchmarks/bench_websocket_overhead.py [--policies random,scripted]
                                                  [--calls 200] [--tasks lift_cube]
    .venv-lerobot/bin/python benchmarks/bench_websocket_overhead.py \
        --policies lerobot:/path/to/pretrained_model --calls 30 --round-trip-only

1. Round trip per chunk through `wamrobust serve` (a separate process on localhost)
   against calling the same policy in-process, on a real tabletop observation (two
   128 px cameras; the oracle also ships its privileged state): median ms and ratio.
2. Throughput: the same case matrix with `-n 2`, in-process vs both workers sharing one
   server (episodes per second).
3. The server killed after the first episode: the run completes, the rest are errors.

This module is also the pytest plugin part 3 loads (`-p bench_websocket_overhead`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import numpy as np
from _runs import run_plugin

KILL_ENV = "WAMROBUST_BENCH_KILL_PID"


def pytest_runtest_logreport(report) -> None:
    """Plugin hook for part 3: kill the server once the first episode is done."""
    pid = os.environ.get(KILL_ENV)
    if pid and report.when == "teardown" and "test_episode" in report.nodeid:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def serve(policy: str) -> tuple[str, subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, "-m", "pytest_wamrobust", "serve",
                             f"--policy={policy}", "--suite=tabletop", "--host=127.0.0.1",
                             "--port=0"], stdout=subprocess.PIPE, text=True)
    banner = ""
    while " on ws://" not in banner:  # a policy may print while it loads
        banner = proc.stdout.readline()
        if not banner:
            sys.exit(f"wamrobust serve --policy={policy} did not start")
    return banner.split(" on ")[1].split()[0], proc


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(10)


def round_trips(policies: list[str], calls: int) -> None:
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext

    suite = registry.make_suite("tabletop")
    key = next(iter(suite.cases(CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1))))
    spec = suite.episode_spec(key)
    env = suite.make_env(spec)
    observation = env.reset()
    ctx = PolicyContext(suite.env_spec)
    print(f"1. round trip per chunk, {calls} calls, tabletop observation "
          f"(2 x 128x128x3 uint8 + state)")
    print(f"   {'policy':10s} {'in-process ms':>14s} {'websocket ms':>13s} {'overhead ms':>12s} "
          f"{'ratio':>7s} {'server infer ms':>16s}")
    for name in policies:
        local = registry.make_policy(name, ctx)
        url, proc = serve(name)
        try:
            remote = registry.make_policy(url, ctx)
            times: dict[int, list[float]] = {0: [], 1: []}
            for policy in (local, remote):
                policy.reset(spec.task.name, spec.episode_seed)
                policy.infer(observation)  # warm-up (lazy imports, first connection)
            for _ in range(calls):  # alternating, so load changes hit both alike
                for side, policy in enumerate((local, remote)):
                    start = time.perf_counter()
                    policy.infer(observation)
                    times[side].append((time.perf_counter() - start) * 1000.0)
            rows = [float(np.median(times[0])), float(np.median(times[1]))]
            server_ms = float(remote.episode_properties()["server_infer_p50_ms"])
            remote.close()
        finally:
            stop(proc)
        print(f"   {name[:10]:10s} {rows[0]:14.3f} {rows[1]:13.3f} {rows[1] - rows[0]:12.3f} "
              f"{rows[1] / rows[0]:7.1f} {server_ms:16.3f}")
    env.close()


def throughput(matrix: list[str], rounds: int) -> None:
    """Best of `rounds` alternating runs per path: load on this machine only adds time."""
    print(f"2. throughput with 2 workers, best of {rounds}: {' '.join(matrix)}")
    url, proc = serve("scripted")
    best: dict[str, tuple[float, list]] = {}
    try:
        for _ in range(rounds):
            for label, policy in (("in-process", "scripted"), ("shared server", url)):
                wall, results = run_plugin([f"--policy={policy}", *matrix, "-n", "2"])
                if label not in best or wall < best[label][0]:
                    best[label] = (wall, results)
    finally:
        stop(proc)
    for label, (wall, results) in best.items():
        latency = np.median([x for r in results for x in r.chunk_latencies_ms])
        print(f"   {label:14s}: {len(results)} episodes in {wall:6.1f} s = "
              f"{len(results) / wall:.2f} episodes/s, success "
              f"{sum(r.success for r in results)}/{len(results)}, round trip p50 {latency:.2f} ms")


def killed_server(matrix: list[str]) -> None:
    url, proc = serve("scripted")
    os.environ[KILL_ENV] = str(proc.pid)
    try:
        wall, results = run_plugin([f"--policy={url}", *matrix, "-p", "no:xdist",
                                    "-p", "bench_websocket_overhead"])
    finally:
        del os.environ[KILL_ENV]
        stop(proc)
    errors = [r for r in results if r.errored]
    print(f"3. server killed after the first episode: run completed in {wall:.1f} s, "
          f"{len(results)} episodes recorded, {sum(r.success for r in results)} success, "
          f"{len(errors)} errors; max wall per errored episode "
          f"{max((r.wall_time_s for r in errors), default=0):.2f} s")
    if errors:
        print(f"   e.g. {errors[0].key.case_id}: {errors[0].error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", default="random,scripted")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tasks", default="lift_cube")
    parser.add_argument("--axes", default="clean,camera,robot_init,noise,layout")
    parser.add_argument("--levels", default="1,5")
    parser.add_argument("--rounds", type=int, default=2, help="runs per path in part 2")
    parser.add_argument("--round-trip-only", action="store_true", help="skip parts 2 and 3")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    round_trips(args.policies.split(","), args.calls)
    if args.round_trip_only:
        return
    matrix = ["--suite=tabletop", f"--tasks={args.tasks}", f"--axes={args.axes}",
              f"--levels={args.levels}", "--seeds=1", "-k", "test_episode"]
    throughput(matrix, args.rounds)
    killed_server(matrix)


if __name__ == "__main__":
    main()
