"""A policy that takes 50 ms per chunk must be reported at 50 +- 1 ms.

    python benchmarks/bench_latency_accuracy.py [--sleep-ms 50]

`sleepy` below is a real policy (module:callable) that sleeps in every `infer` and
logs how long it really spent there (its own perf_counter, per chunk). Read back:
- the plugin's per-chunk timings (what the latency gate uses, under xdist too),
  against the nominal sleep and against the policy's own log, chunk by chunk: the
  second difference is the harness' measurement error, independent of how late a
  busy machine wakes the sleeper;
- pytest-benchmark's `test_latency[sleepy]` (single process only).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.policies.baselines import NoopPolicy


class SleepyPolicy(NoopPolicy):
    def __init__(self, ctx: PolicyContext) -> None:
        super().__init__(ctx.env_spec)
        self._seconds = float(ctx.options.get("sleep_ms", 50)) / 1000.0
        self._log = Path(ctx.options.get("log_dir", ".")) / f"{os.getpid()}.jsonl"
        self._rows: list[str] = []
        self._episode = (0, 0)
        atexit.register(self._flush)

    def reset(self, task: str, seed: int) -> None:
        self._flush()
        self._episode = (seed, 0)

    def _flush(self) -> None:
        """Outside infer, so writing the log is not part of what is timed."""
        if self._rows:
            with self._log.open("a") as log:
                log.write("".join(self._rows))
            self._rows.clear()

    def infer(self, observation):
        start = time.perf_counter()
        time.sleep(self._seconds)
        chunk = super().infer(observation)
        spent = (time.perf_counter() - start) * 1000.0
        seed, index = self._episode
        self._episode = (seed, index + 1)
        self._rows.append(json.dumps({"seed": seed, "i": index, "ms": spent}) + "\n")
        return chunk


def sleepy(ctx: PolicyContext) -> SleepyPolicy:
    return SleepyPolicy(ctx)


def main() -> None:
    from _runs import run_plugin

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep-ms", type=float, default=50.0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, extra in (("-p no:xdist", ["-p", "no:xdist"]), ("-n 2", ["-n", "2"])):
        with tempfile.TemporaryDirectory() as tmp:
            bench_json = Path(tmp) / "bench.json"
            _, results = run_plugin([
                "--policy=bench_latency_accuracy:sleepy", f"--policy-arg=sleep_ms={args.sleep_ms}",
                f"--policy-arg=log_dir={tmp}", "--suite=tabletop", "--tasks=lift_cube",
                "--axes=clean", "--levels=1,2", "--seeds=1", f"--benchmark-json={bench_json}",
                *extra])
            inner = {}
            for log in Path(tmp).glob("*.jsonl"):
                for line in log.read_text().splitlines():
                    row = json.loads(line)
                    inner[(row["seed"], row["i"])] = row["ms"]
            reported = {(r.episode_seed, i): ms for r in results
                        for i, ms in enumerate(r.chunk_latencies_ms)}
            pairs = np.array([(reported[k], inner[k]) for k in reported if k in inner])
            error = pairs[:, 0] - pairs[:, 1]
            print(f"{label:12s} {len(results)} episodes, {len(pairs)} chunks: reported median "
                  f"{np.median(pairs[:, 0]):.2f} ms (|median - {args.sleep_ms:g}| <= 1 ms: "
                  f"{abs(np.median(pairs[:, 0]) - args.sleep_ms) <= 1.0}); reported - time in "
                  f"infer: median {np.median(error) * 1000:.0f} us, "
                  f"max {error.max() * 1000:.0f} us")
            measured = json.loads(bench_json.read_text() or "{}").get("benchmarks")
            if measured:
                stats = measured[0]["stats"]
                print(f"{'':12s} pytest-benchmark test_latency: "
                      f"median {stats['median'] * 1000:.2f} ms over {stats['rounds']} rounds")


if __name__ == "__main__":
    main()
