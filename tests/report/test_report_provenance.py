"""`wamrobust report` on a real run says what it wrote, and its HTML page records how it
was made: when the run started, when the page was written, the versions of the packages
involved and the command that produced it."""

from __future__ import annotations

import platform
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import version

import pytest

from pytest_wamrobust.cli import main


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
    made = provenance_of(page)
    written = datetime.strptime(made["Report written"], "%Y-%m-%d %H:%M:%S UTC")
    assert before <= written.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
    started = re.search(r'timestamp="([^"]+)"', (real_run / "run.xml").read_text()).group(1)
    assert made["Runs started"].startswith(started.replace("T", " ")[:19])
    recorded = made["Run versions, as recorded by the run"]
    for name in ("pytest-wamrobust", "pytest", "numpy", "torch", "mujoco", "hypothesis"):
        assert f"{name} {version(name)}" in recorded
    for name in ("pytest-wamrobust", "numpy", "junitparser", "matplotlib"):
        assert f"{name} {version(name)}" in made["Report versions (wamrobust report)"]
    for versions in (recorded, made["Report versions (wamrobust report)"]):
        assert versions.endswith(f"Python {platform.python_version()}")
    assert made["Command"] == shlex.join(["wamrobust", *argv])


def provenance_of(page: str) -> dict[str, str]:
    return dict(re.findall(r"<tr><th>([^<]+)</th><td><code>([^<]*)</code></td></tr>",
                           page[page.index("<h3>Provenance</h3>"):]))


def test_the_page_shows_the_versions_the_run_recorded_not_the_reports(real_run, capsys):
    """The run played on a GPU host with other packages than the laptop that writes the
    report: the page shows the run's, from its JUnit file; files of runs in different
    environments are listed each, and a file from before runs recorded them says so."""
    text = (real_run / "run.xml").read_text()
    line = re.search(r'<property name="wam.run.versions" value="([^"]+)"', text)
    assert line is not None and f"torch {version('torch')}" in line[1]
    gpu_host = line[1].replace(f"torch {version('torch')}", "torch 2.5.1+cu124")
    (real_run / "gpu.xml").write_text(text.replace(line[1], gpu_host))
    (real_run / "old.xml").write_text(text.replace(line[0], "<property name=\"x\" value=\"\""))
    row = "Run versions, as recorded by the run"

    def shown(*argv: str) -> str:
        html = real_run / "page.html"
        assert main(["report", *argv, "--html", str(html)]) == 0
        capsys.readouterr()
        return provenance_of(html.read_text())[row]

    assert shown(str(real_run / "gpu.xml")) == gpu_host and "torch 2.5.1+cu124" in gpu_host
    here, gpu = real_run / "run.xml", real_run / "gpu.xml"
    assert shown(f"--label=here={here}", f"--label=gpu={gpu}") == (
        f"{here}: {line[1]}; {gpu}: {gpu_host}")
    assert shown(str(real_run / "old.xml")) == "not recorded in the JUnit files"


def test_markdown_on_stdout_stays_clean(real_run):
    done = subprocess.run([sys.executable, "-m", "pytest_wamrobust", "report", "run.xml",
                           "--merged-xml", "merged.xml"], cwd=real_run, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("## Robustness report") and "wrote" not in done.stdout
    assert done.stderr == "wrote merged.xml (1 case, 1 policy)\n"
