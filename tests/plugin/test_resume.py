"""--wam-resume on real runs: a finished run resumes to nothing to play; a run killed half
way (SIGKILL of its whole process group, SIGTERM of pytest) resumes from what it left
beside its JUnit path, plays only the missing cases, and ends in the JUnit file an
uninterrupted run writes, case by case; another policy's file or a corrupt log is one
line before any episode."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties
from results_logs import logged_results, wait_until_logged

SELECTION = ("--suite=tabletop", "--policy=tiny-vla", "--tasks=lift_cube",
             "--axes=clean,camera", "--seeds=2")
CASES = 12  # (clean + camera) x 3 levels x 2 seeds
#: Properties that differ between two plays of the same case (timing), or mark the resume.
UNCOMPARED = ("wam.latency_", "wam.wall_time_s", "wam.resumed_from")


def episodes(path: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Case name -> (JUnit outcome, wam.* properties) of a file's episode cases."""
    found = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            if case.name.startswith("test_episode["):
                props = case.child(Properties)
                outcome = type(case.result[0]).__name__ if case.result else "passed"
                found[case.name] = (outcome, {p.name: p.value for p in props or ()})
    return found


def comparable(path: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """`episodes` without the properties that differ between two plays of a case."""
    return {name: (outcome, {k: v for k, v in props.items() if not k.startswith(UNCOMPARED)})
            for name, (outcome, props) in episodes(path).items()}


def played(path: Path) -> set[str]:
    """The cases of a file that were played: with a result, not carried over."""
    return {name for name, (_, props) in episodes(path).items()
            if props and "wam.resumed_from" not in props}


def verdict_line(result: pytest.RunResult) -> str:
    return next(line for line in result.stdout.lines if line.startswith("wamrobust verdict:"))


def pytest_command(*args: str) -> list[str]:
    """A run as these tests start it themselves: its JUnit file is report.xml, and so its
    results log report.xml.wamlog.jsonl."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-o", "junit_family=xunit1", "--junitxml=report.xml", *args]


def run_killed_half_way(folder: Path, args: list[str], cases: int, how: str = "SIGKILL",
                        timeout_s: float = 600) -> tuple[int, float]:
    """Start `pytest --junitxml=report.xml <args>` in `folder` and, once its results log
    holds about half the cases, kill it: SIGKILL to its whole process group (pytest and
    its xdist workers), or SIGTERM to pytest alone. Returns the cases logged by then and
    the wall time until the kill."""
    log = folder / "report.xml.wamlog.jsonl"
    start = time.perf_counter()
    process = subprocess.Popen(pytest_command(*args), cwd=folder, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_until_logged(log, cases // 2, process, timeout_s):
            raise AssertionError(f"the run ended (status {process.returncode}) before "
                                 f"half of its {cases} cases were logged")
        if how == "SIGKILL":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(signal.SIGTERM)
        wall = time.perf_counter() - start
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return logged_results(log), wall


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The folder of one uninterrupted run of SELECTION: its JUnit file and results log,
    what every resume here must end in. Played once for the module: a case's outcome does
    not depend on -n (tests/policies/test_tiny_policies.py), so it serves both."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    done = subprocess.run(pytest_command(*SELECTION), cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(episodes(folder / "report.xml")) == CASES
    return folder


def test_resuming_a_finished_run_plays_nothing(run_plugin, pytester, uninterrupted):
    for name in ("report.xml", "report.xml.wamlog.jsonl"):
        shutil.copy(uninterrupted / name, pytester.path / name)
    before = comparable(pytester.path / "report.xml")

    again = run_plugin(*SELECTION, "--wam-resume=report.xml")
    assert again.ret == 0, again.stdout.str()[-2000:]
    again.stdout.fnmatch_lines([f"wamrobust: --wam-resume carries over {CASES} cases with a "
                                f"final outcome from report.xml*",
                                f"suite tabletop, policy tiny-vla: {CASES} episodes"])
    assert played(pytester.path / "report.xml") == set()
    assert comparable(pytester.path / "report.xml") == before

    (pytester.path / "report.xml.wamlog.jsonl").unlink()  # a JUnit file alone (a CI artifact)
    from_junit = run_plugin(*SELECTION, "--wam-resume=report.xml", junit="again.xml")
    assert from_junit.ret == 0, from_junit.stdout.str()[-2000:]
    assert played(pytester.path / "again.xml") == set()
    assert comparable(pytester.path / "again.xml") == before


@pytest.mark.parametrize("how, distribute", [("SIGKILL", ("-n", "2")), ("SIGTERM", ())],
                         ids=["SIGKILL of the process group, -n 2",
                              "SIGTERM of pytest, the isolated worker"])
def test_a_run_killed_half_way_resumes_to_the_uninterrupted_runs_junit(
        run_plugin, pytester, uninterrupted, how, distribute):
    full = uninterrupted / "report.xml"
    logged, _ = run_killed_half_way(pytester.path, [*SELECTION, *distribute], CASES, how)
    assert logged < CASES, "the run finished before it was killed"
    log = (pytester.path / "report.xml.wamlog.jsonl").read_text()
    finished = {line.split('"case": "wamrobust::')[1].split('"')[0]
                for line in log.splitlines()[1:]}

    resumed = run_plugin(*SELECTION, *distribute, "--wam-resume=report.xml")
    assert resumed.ret == 0, resumed.stdout.str()[-2000:]
    assert played(pytester.path / "report.xml") == set(episodes(full)) - finished
    assert comparable(pytester.path / "report.xml") == comparable(full)


def test_another_policys_run_is_one_line_and_nothing_plays(run_plugin, pytester):
    first = run_plugin(*SELECTION, "--levels=1", "--seeds=1")
    assert first.ret == 0, first.stdout.str()[-2000:]
    other = [arg.replace("tiny-vla", "tiny-wam") for arg in SELECTION]
    result = run_plugin(*other, "--levels=1", "--seeds=1", "--wam-resume=report.xml",
                        junit="other.xml")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: --wam-resume report.xml*: another run (policy "
                                 "'tiny-vla' there, 'tiny-wam' here; policy fingerprint *); "
                                 "nothing carried over*"])
    assert len(result.stderr.lines) <= 2 and "Traceback" not in result.stderr.str()
    assert "test_episode" not in result.stdout.str()


@pytest.mark.parametrize("log", ['{"wamrobust_results_log": 1, "run": {"policy"\n',
                                 "not json\n"], ids=["a cut first line", "not a log"])
def test_a_corrupt_log_is_one_line(run_plugin, pytester, log):
    (pytester.path / "report.xml.wamlog.jsonl").write_text(log + '{"case": 1}\n')
    result = run_plugin(*SELECTION, "--wam-resume=report.xml", junit="new.xml")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: report.xml.wamlog.jsonl is not a readable wamrobust "
                                 "results log (line 1: *); delete it to play every case again"])
    assert "test_episode" not in result.stdout.str()


def test_resumed_outcomes_feed_early_verdicts_in_play_order(run_plugin, pytester):
    pytester.makefile(".toml", gates="clean = 0.3\noverall = 0.3\n")
    early = ("--policy=scripted", "--suite=tabletop", "--tasks=lift_cube",
             "--wam-thresholds=gates.toml", "--wam-decide", "-n", "2")
    first = run_plugin(*early)
    assert first.ret == 0, first.stdout.str()[-2000:]
    verdict = verdict_line(first)
    assert "decided early" in verdict
    carried = played(pytester.path / "report.xml")
    assert len(carried) < 24

    resumed = run_plugin(*early, "--wam-resume=report.xml")
    assert resumed.ret == 0, resumed.stdout.str()[-2000:]
    assert verdict_line(resumed) == verdict  # decided after the same episode in play order
    assert carried.isdisjoint(played(pytester.path / "report.xml"))


@pytest.mark.slow  # a Ray runtime; the resume itself is the fast tests' above
def test_under_ray_the_driver_submits_only_the_cases_not_carried_over(run_plugin, pytester):
    pytest.importorskip("ray", reason="pip install 'pytest-wamrobust[ray]'")
    clean = ("--policy=scripted", "--suite=tabletop", "--tasks=lift_cube", "--axes=clean",
             "--levels=1")
    first = run_plugin(*clean, "--seeds=2")
    assert first.ret == 0, first.stdout.str()[-2000:]

    more = run_plugin(*clean, "--seeds=4", "--wam-ray", "--wam-resume=report.xml",
                      junit="more.xml", timeout=300)
    assert more.ret == 0, more.stdout.str()[-2000:]
    cases = episodes(pytester.path / "more.xml")
    assert played(pytester.path / "more.xml") == {
        f"test_episode[tabletop/lift_cube/clean/L0/s0{seed}]" for seed in (2, 3)}
    assert all("wam.ray_actor" in props for name, (_, props) in cases.items()
               if name in played(pytester.path / "more.xml"))
    assert len(cases) == 4
