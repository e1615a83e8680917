"""`wamrobust report` on a real run says what it wrote, and its HTML page records how it
was made: when the run started, when the page was written, the versions of the packages
involved and the command that produced it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import version

import pytest


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One clean tabletop episode of the noop policy, written by pytest as usual."""
    where = tmp_path_factory.mktemp("run")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "junit_family=xunit1", "--policy=noop", "--suite=tabletop", "--tasks=lift_cube",
         "--axes=clean", "--levels=1", "--seeds=1", "--benchmark-disable",
         "--junitxml=run.xml", "--rootdir", str(where)],
        cwd=where, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return where


def test_report_says_what_it_wrote_and_the_page_records_its_making(real_run):
    argv = ["report", "run.xml", "--html", "out/report.html", "--markdown", "report.md",
            "--png", "heatmap.png"]
    before = datetime.now(timezone.utc).replace(microsecond=0)
    done = subprocess.run([sys.executable, "-m", "pytest_wamrobust", *argv], cwd=real_run,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # the Markdown went to its file
    assert done.stderr.splitlines() == [
        "wrote report.md (1 case, 1 policy)",
        "wrote heatmap.png (1 case, 1 policy)",
        "wrote out/report.html (1 case, 1 policy)",
    ]
    page = (real_run / "out" / "report.html").read_text()
    made = dict(re.findall(r"<tr><th>([^<]+)</th><td><code>([^<]*)</code></td></tr>",
                           page[page.index("<h3>Provenance</h3>"):]))
    written = datetime.strptime(made["Report written"], "%Y-%m-%d %H:%M:%S UTC")
    assert before <= written.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
    started = re.search(r'timestamp="([^"]+)"', (real_run / "run.xml").read_text()).group(1)
    assert made["Runs started"].startswith(started.replace("T", " ")[:19])
    for name in ("pytest-wamrobust", "pytest", "numpy", "junitparser", "matplotlib"):
        assert f"{name} {version(name)}" in made["Versions"]
    assert f"Python {sys.version.split()[0]}" in made["Versions"]
    assert made["Command"] == shlex.join(["wamrobust", *argv])


def test_markdown_on_stdout_stays_clean(real_run):
    done = subprocess.run([sys.executable, "-m", "pytest_wamrobust", "report", "run.xml",
                           "--merged-xml", "merged.xml"], cwd=real_run, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Robustness report") and "wrote" not in done.stdout
    assert done.stderr == "wrote merged.xml (1 case, 1 policy)\n"
