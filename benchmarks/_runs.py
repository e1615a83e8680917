"""Shared by the benchmark scripts: run the plugin in a fresh pytest and read its JUnit."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_wamrobust.records.junit import read_results

HERE = Path(__file__).resolve().parent


def run_plugin(args: list[str]) -> tuple[float, list]:
    """Wall time of `pytest <args>` in a scratch directory, and the episode results."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-o", "junit_family=xunit1", f"--junitxml={xml}", *args]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))}
        start = time.perf_counter()
        done = subprocess.run(cmd, check=False, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode not in (0, 1):
            sys.exit(f"pytest failed ({done.returncode}):\n"
                     f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        return wall, read_results([xml])
