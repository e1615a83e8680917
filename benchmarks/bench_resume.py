"""A killed run resumes to the uninterrupted run's JUnit file, playing only what it lacked.

    python benchmarks/bench_resume.py [--policy tiny-vla] [--workers 2]

The default tabletop matrix (192 cases) with `-n 2`: one uninterrupted run; one run
killed at about half way (SIGKILL to its whole process group, pytest and its xdist
workers, once its results log holds half the cases); then `--wam-resume` of the killed
run. Prints the cases the killed run had logged, the cases the resume played (they must
be exactly the others), whether the resumed JUnit equals the uninterrupted one case by
case (outcome and wam.* properties, timing and the resume mark aside), and the wall
times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "plugin")]

# Importable only once tests/ and tests/plugin are on sys.path (above).
from test_resume import comparable, episodes, played, run_killed_half_way  # noqa: E402

CASES = 192  # the default tabletop matrix: 4 tasks x (clean + 7 axes) x 3 levels x 2 seeds


def pytest_run(folder: Path, junit: str, args: list[str]) -> float:
    """Wall time of one pytest run in `folder`; exits on a status other than 0 or 1."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-o", "junit_family=xunit1", f"--junitxml={junit}", *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        sys.exit(f"pytest failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                 f"{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="tiny-vla")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    args = ["--suite=tabletop", f"--policy={options.policy}", "-n", str(options.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full_s = pytest_run(folder, "full.xml", args)
        logged, killed_s = run_killed_half_way(folder, args, CASES)
        log = (folder / "report.xml.wamlog.jsonl").read_text().splitlines()[1:]
        finished = {line.split('"case": "wamrobust::')[1].split('"')[0] for line in log}
        resume_s = pytest_run(folder, "report.xml", [*args, "--wam-resume=report.xml"])
        full, resumed = folder / "full.xml", folder / "report.xml"
        replayed = played(resumed)
        missing = set(episodes(full)) - finished
        equal = comparable(resumed) == comparable(full)
    print(f"policy {options.policy}, -n {options.workers}, {CASES} cases")
    print(f"uninterrupted run:     {full_s:7.1f} s")
    print(f"killed run:            {killed_s:7.1f} s until SIGKILL of its process group, "
          f"{logged} of {CASES} cases in its results log")
    print(f"resume:                {resume_s:7.1f} s, played {len(replayed)} cases "
          f"({'exactly' if replayed == missing else 'NOT only'} the {len(missing)} missing), "
          f"carried over {CASES - len(replayed)}")
    print(f"killed + resume:       {killed_s + resume_s:7.1f} s "
          f"({(killed_s + resume_s) / full_s:.2f} x the uninterrupted run)")
    print(f"resumed JUnit equals the uninterrupted run's, case by case: "
          f"{'yes' if equal else 'NO'}")
    if not equal or replayed != missing:
        sys.exit(1)


if __name__ == "__main__":
    main()
