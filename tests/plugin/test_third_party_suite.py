"""A third-party suite package (examples/wamrobust-example-suite, the one docs/suites.md
walks through) installed into a fresh environment: pytest finds the suite and its
scripted oracle by entry point, takes its default gates from the manifest it ships,
passes `--suite-arg`s to its factory and refuses the ones it does not read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wamrobust-example-suite"


@pytest.fixture(scope="module")
def venv_python(venv_with) -> Path:
    return venv_with(EXAMPLE)


def pytest_in(python: Path, where: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "junit_family=xunit1", "--rootdir", str(where), *args],
        check=False, capture_output=True, text=True, timeout=300, cwd=where)


def episodes(report: Path) -> list[dict[str, str]]:
    return [{p.name: p.value for p in case.child(Properties)}
            for suite in JUnitXml.fromfile(str(report)) for case in suite
            if case.name.startswith("test_episode[")]


def test_installed_suite_runs_by_name_with_its_oracle_and_gates(venv_python, tmp_path):
    report = tmp_path / "report.xml"
    done = pytest_in(venv_python, tmp_path, "--suite=reach2d", "--policy=scripted",
                     "--axes=clean,camera,robot_init,layout,noise", "--levels=1,5",
                     "--seeds=1", "--benchmark-disable", f"--junitxml={report}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # the gates come from the manifest the package ships
    assert re.search(r"^clean +4 +4 +0 +100\.0% .* >= 90\.0% ok$", done.stdout, re.M)
    assert re.search(r"^overall +16 +16 +0 +100\.0% .* >= 50\.0% ok$", done.stdout, re.M)
    cases = episodes(report)
    assert len(cases) == 2 * (2 + 4 * 2)  # tasks x (clean: seeds x levels + axes x levels)
    assert {c["wam.suite"] for c in cases} == {"reach2d"}
    assert {c["wam.status"] for c in cases} == {"success"}
    # the clean control: axis case s00 starts from the scene of clean s00
    seeds = {(c["wam.task"], c["wam.setting"], c["wam.seed"]): c["wam.episode_seed"]
             for c in cases}
    assert seeds[("reach_red", "camera", "0")] == seeds[("reach_red", "clean", "0")]


def test_suite_args_reach_the_factory_and_unknown_ones_are_one_line(venv_python, tmp_path):
    done = pytest_in(venv_python, tmp_path, "--suite=reach2d", "--policy=random",
                     "--suite-arg", "image_size=32", "--tasks=reach_red", "--axes=clean",
                     "--seeds=1", "--levels=1", "--benchmark-disable")
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]
    assert "suite reach2d, policy random: 1 episodes" in done.stdout
    bad = pytest_in(venv_python, tmp_path, "--suite=reach2d", "--policy=random",
                    "--suite-arg", "size=32")
    assert bad.returncode == 4
    assert bad.stderr.strip() == ("ERROR: suite reach2d does not take --suite-arg size; "
                                  "it takes: image_size")
