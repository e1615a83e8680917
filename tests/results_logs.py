"""A running pytest's results log (`report.xml.wamlog.jsonl`, records/results_log.py):
the tests that interrupt a run do it once the log shows it got as far as they need."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def logged_results(log: Path) -> int:
    """The episodes the log holds so far (its first line is the run's identity)."""
    try:
        return max(log.read_text().count("\n") - 1, 0)
    except FileNotFoundError:
        return 0


def wait_until_logged(log: Path, results: int, process: subprocess.Popen,
                      timeout_s: float) -> bool:
    """Whether the log came to hold `results` episodes before the process ended and
    before `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    while logged_results(log) < results:
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
