"""Shared test configuration: pytester runs the plugin end to end in a fresh pytest."""

import functools
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _child_pytest_is_not_an_xdist_worker(monkeypatch):
    """Under `-n 2` these variables describe this worker; a pytest a test starts as a
    subprocess would inherit them, and pytest-benchmark would then switch itself off
    as if that child were an xdist worker too."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run_plugin(pytester: pytest.Pytester):
    """`run_plugin(*args)` runs pytest with the plugin in `pytester.path`, without a
    cache, writing an xunit1 JUnit file named `junit` (none when `junit=None`); a fresh
    process as in CI, in-process (`inprocess=True`) where no scene is rendered. Other
    keywords (`timeout=`) go to pytester."""

    def run(*args: str, inprocess: bool = False, junit: str | None = "report.xml",
            **kwargs) -> pytest.RunResult:
        runner = pytester.runpytest_inprocess if inprocess else pytester.runpytest_subprocess
        report = ("-o", "junit_family=xunit1", f"--junitxml={junit}") if junit else ()
        return runner("-p", "no:cacheprovider", *report, *args, **kwargs)

    return run


def read_junit_cases(path, stem: str = "test_episode") -> dict[str, dict[str, str]]:
    """test case name -> its wam.* properties, for the generated `stem[...]` cases."""
    found = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            props = case.child(Properties)
            if case.name.startswith(f"{stem}[") and props is not None:
                found[case.name] = {p.name: p.value for p in props}
    return found


@pytest.fixture
def junit_episodes():
    """`junit_episodes(path)`: test case name -> {wam.* properties} of a JUnit file."""
    return read_junit_cases


@pytest.fixture
def junit_searches():
    """`junit_searches(path)`: the same, for the --wam-search cases."""
    return functools.partial(read_junit_cases, stem="test_search")


@pytest.fixture(scope="session")
def venv_with(tmp_path_factory):
    """`venv_with(package_dir)` -> the python of a fresh venv that sees this environment
    and has the package installed, as a third party's user would have it."""

    built: dict[Path, Path] = {}  # one venv per package for the whole session

    def make(package: Path) -> Path:
        if package in built:
            return built[package]
        venv = tmp_path_factory.mktemp(package.name) / "venv"
        # no pip of its own: its bundled setuptools would shadow the system one
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(venv)], check=True, timeout=120)
        python = venv / "bin" / "python"
        subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                        "--no-deps", "--no-build-isolation", str(package)], check=True,
                       timeout=300, capture_output=True)
        built[package] = python
        return python

    return make
