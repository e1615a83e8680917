"""What the installed plugin costs a project that never uses it.

pytest loads every `pytest11` entry point in every run of the environment, so a
project with one unrelated test pays for our import on each `pytest` call. This times
that project's whole run (fresh interpreter each time, as a user sees it) with the
plugin and with `-p no:wamrobust`, alternating, and prints the ratio of the medians.
Goal: <= 1.05.

    python benchmarks/bench_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.05


def one_run(folder: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
                   cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_unrelated.py").write_text("def test_arithmetic():\n    assert 1 + 1 == 2\n")
        one_run(folder)  # warm the file cache and bytecode
        with_plugin, without = [], []
        for _ in range(args.rounds):
            with_plugin.append(one_run(folder))
            without.append(one_run(folder, "-p", "no:wamrobust"))
    loaded, bare = statistics.median(with_plugin), statistics.median(without)
    ratio = loaded / bare
    print(f"one-test project, {args.rounds} rounds, median wall time: with the plugin "
          f"{loaded * 1000:.0f} ms, with -p no:wamrobust {bare * 1000:.0f} ms")
    print(f"ratio {ratio:.3f} (goal <= {GOAL}): {'met' if ratio <= GOAL else 'NOT met'}")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
