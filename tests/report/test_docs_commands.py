"""docs/reports.md's latency commands, run as written: the episodes, the pytest-benchmark
case alone into `latency.json`, then the report that folds it in. Only the first is
narrowed (one task, one setting, one level), so the test takes seconds, not a minute."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
SECTION = "## Latency from pytest-benchmark: `latency.json`"
NARROW = ["--tasks=lift_cube", "--axes=clean", "--levels=1"]


def documented_commands() -> list[list[str]]:
    text = DOC.read_text()
    section = text[text.index(SECTION):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def test_latency_json_commands_of_the_doc_work(tmp_path):
    commands = documented_commands()
    assert [c[:3] for c in commands] == [["python", "-m", "pytest"]] * 2 + [
        ["python", "-m", "pytest_wamrobust"]]
    assert "--benchmark-json=latency.json" in commands[1]
    for i, command in enumerate(commands):
        argv = [sys.executable, *command[1:], *(NARROW if i == 0 else [])]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              check=False)
        # the episodes may leave some unsolved (exit 1); the benchmark and report may not
        assert done.returncode in ((0, 1) if i == 0 else (0,)), (
            command, done.stdout[-3000:], done.stderr[-2000:])
    report = (tmp_path / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| tiny-vla ")]
    latency = [row for row in rows if "episodes" in row or "pytest-benchmark" in row]
    assert len(latency) == 2, report
    assert "pytest-benchmark (test_latency[tiny-vla])" in latency[1]
    rounds = int(latency[1].split("|")[3])
    assert rounds > 10  # measured, not a disabled benchmark passing as one
    assert (tmp_path / "report.html").is_file()
