"""A third-party package (examples/wamrobust-example-policy) installed into a fresh
environment registers a policy by entry point alone, and pytest and `wamrobust serve`
find it by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wamrobust-example-policy"


@pytest.fixture(scope="module")
def venv_python(venv_with) -> Path:
    return venv_with(EXAMPLE)


def test_installed_package_policy_runs_by_name(venv_python, tmp_path):
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [str(venv_python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "junit_family=xunit1", f"--junitxml={report}", "--suite=tabletop",
         "--policy=reach-down", "--policy-arg", "depth=0.05", "--tasks=lift_cube",
         "--axes=clean", "--seeds=1", "--rootdir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]
    case = next(c for s in JUnitXml.fromfile(str(report)) for c in s
                if c.name.startswith("test_episode["))
    props = {p.name: p.value for p in case.child(Properties)}
    assert props["wam.policy"] == "reach-down" and props["wam.status"] == "failure"
    assert int(props["wam.steps"]) == 120 and int(props["wam.chunks"]) == 30

    # not installed in this interpreter: the name is unknown, and the message lists what is
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--suite=tabletop",
         "--policy=reach-down", "--tasks=lift_cube", "--axes=clean", "--rootdir",
         str(tmp_path)], check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert plain.returncode != 0
    # ... and names the interpreter whose entry points it searched
    assert (f"unknown policy 'reach-down' for --policy (searched the entry points of "
            f"{sys.executable}); available:") in plain.stdout + plain.stderr


def test_bad_policy_arg_of_the_package_is_one_line(venv_python):
    done = subprocess.run(
        [str(venv_python), "-m", "pytest_wamrobust", "serve", "--policy=reach-down",
         "--suite=tabletop", "--policy-arg", "depth=deep", "--port=0"],
        check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("wamrobust serve: error: --policy-arg depth must be metres, "
                                   "e.g. depth=0.1")
