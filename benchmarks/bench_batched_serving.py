"""One model, batched, for many workers: what `wamrobust serve --max-batch` buys.

    python benchmarks/bench_batched_serving.py [--device cpu|cuda] [--clients 8]
                                               [--seconds 15] [--max-batch 8]

Each client is its own process (as an xdist worker is) with its own connection, sending
a real tabletop observation (two 128 px cameras, a different scene per client) and
starting a new episode every 10 chunks. Three servers of `--policy` (default tiny-wam):
1. without --max-batch, N clients: chunks/s (one model, one request at a time);
2. with --max-batch N, N clients: chunks/s and the batch sizes it ran;
3. with --max-batch N, 1 client.
Printed: chunks/s batched over unbatched (goal >= 2.5 on CPU), and the server's peak
RSS with N clients over 1 client (goal <= 1.3: one model, not one per connection). First,
the model alone in this process: N single calls against one `infer_batch` of N, the
ceiling batching can lift the served figure to. The machine's load average is printed
with the figures: on a shared machine they move.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

EPISODE_CHUNKS = 10


def observations(count: int) -> list:
    """First observations of `count` real tabletop scenes."""
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.protocols import CaseSelection

    suite = registry.make_suite("tabletop")
    keys = list(suite.cases(CaseSelection(settings=["clean"], seeds=count)))[:count]
    found = []
    for key in keys:
        env = suite.make_env(suite.episode_spec(key))
        found.append(env.reset())
        env.close()
    return found


def client(url: str, observation, start_at: float, stop_at: float, out) -> None:
    """Request chunks from `url` until `stop_at`; count those answered after `start_at`."""
    from pytest_wamrobust.core.model.protocols import PolicyContext
    from pytest_wamrobust.core.model.registry import make_suite
    from pytest_wamrobust.policies.openpi.client import connect_policy

    policy = connect_policy(url, PolicyContext(make_suite("tabletop").env_spec,
                                               {"request_timeout": "120"}))
    counted = calls = 0
    while (now := time.monotonic()) < stop_at:
        if calls % EPISODE_CHUNKS == 0:
            policy.reset("task", calls)
        policy.infer(observation)
        calls += 1
        counted += now >= start_at
    policy.close()
    out.put(counted)


def serve(policy: str, device: str, batch: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_wamrobust", "serve", f"--policy={policy}",
         f"--device={device}", "--port=0", *batch],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    banner = proc.stdout.readline()
    if " on ws://" not in banner:
        sys.exit(f"the server did not start:\n{banner}{proc.stderr.read()}")
    return proc, banner.split(" on ")[1].split()[0]


def model_only(args: argparse.Namespace, scenes: list, repeat: int = 20) -> tuple[float, float]:
    """ms for `clients` single calls and for one infer_batch of them, in this process."""
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.protocols import BatchPolicy, PolicyContext

    ctx = PolicyContext(registry.make_suite("tabletop").env_spec, device=args.device)
    policy = registry.make_policy(args.policy, ctx)
    if not isinstance(policy, BatchPolicy):
        sys.exit(f"{args.policy} has no infer_batch: nothing to batch")
    batch = [scenes[i % len(scenes)] for i in range(args.clients)]
    episodes = [policy.new_episode("task", i) for i in range(args.clients)]

    def singles() -> None:
        for observation, episode in zip(batch, episodes, strict=True):
            policy.infer_batch([observation], [episode])

    def timed(run) -> float:
        run()
        best = float("inf")
        for _ in range(repeat):  # the best of `repeat`: the least disturbed by the others
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        return best * 1000.0

    return timed(singles), timed(lambda: policy.infer_batch(batch, episodes))


def peak_rss_mb(pid: int) -> float:
    """The process' peak resident memory (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/PID/status (Linux only)")


def phase(args: argparse.Namespace, scenes: list, clients: int,
          batch: list[str]) -> tuple[float, float, str]:
    """chunks/s of `clients` against a fresh server, its peak RSS (MB), its batch line."""
    proc, url = serve(args.policy, args.device, batch)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.monotonic() + args.warmup + 3.0  # spawned clients import first
    stop_at = start_at + args.seconds
    workers = [ctx.Process(target=client, args=(url, scenes[i % len(scenes)], start_at,
                                                 stop_at, out)) for i in range(clients)]
    for worker in workers:
        worker.start()
    counted = sum(out.get(timeout=args.seconds + 300) for _ in workers)
    for worker in workers:
        worker.join(30)
    rss = peak_rss_mb(proc.pid)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    served = next((line for line in stdout.splitlines() if line.startswith("served ")), "")
    return counted / args.seconds, rss, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="tiny-wam")
    parser.add_argument("--device", default="cpu", help="torch device of the server: cpu, cuda")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-batch", type=int, default=None, help="default: --clients")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per phase")
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    max_batch = args.max_batch or args.clients
    batched = [f"--max-batch={max_batch}", f"--batch-wait-ms={args.batch_wait_ms:g}"]
    scenes = observations(args.clients)
    load_before = os.getloadavg()
    single_ms, batch_ms = model_only(args, scenes)
    plain, rss_plain, served_plain = phase(args, scenes, args.clients, [])
    fast, rss_many, served_fast = phase(args, scenes, args.clients, batched)
    one, rss_one, _ = phase(args, scenes, 1, batched)
    load_after = os.getloadavg()
    print(f"{args.policy} served on {args.device}, {args.clients} client processes, "
          f"{args.seconds:g} s each; {os.cpu_count()} CPUs; load average (1/5/15 min) "
          f"before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, after "
          f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}")
    print(f"  model alone: {args.clients} single calls {single_ms:6.1f} ms, one infer_batch of "
          f"{args.clients} {batch_ms:6.1f} ms: {single_ms / batch_ms:.2f}x")
    print(f"  unbatched, {args.clients} clients: {plain:8.1f} chunks/s  peak RSS "
          f"{rss_plain:7.1f} MB  ({served_plain})")
    print(f"  --max-batch {max_batch}, {args.clients} clients: {fast:8.1f} chunks/s  peak RSS "
          f"{rss_many:7.1f} MB  ({served_fast})")
    print(f"  --max-batch {max_batch}, 1 client:  {one:8.1f} chunks/s  peak RSS {rss_one:7.1f} MB")
    print(f"chunks/s batched / unbatched ({args.clients} clients): {fast / plain:.2f}  "
          f"(goal >= 2.5)")
    print(f"server peak RSS {args.clients} clients / 1 client: {rss_many / rss_one:.2f}  "
          f"(goal <= 1.3)")


if __name__ == "__main__":
    main()
