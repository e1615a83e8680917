"""End to end through pytest with the real MuJoCo tabletop suite: a user runs the
plugin, reads the table and the JUnit file, breaks the policy, sets gates, uses xdist.

Selections are tiny (one or two tasks, a few settings, one seed) so each run takes
seconds; every run is a fresh pytest process, as in CI.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

FAULTY = Path(__file__).parents[1].joinpath("faulty_policies.py").read_text()
#: lift_cube is solved by the oracle in ~100 steps; a few settings cover scene edits,
#: the initial state and an image corruption.
SELECT = ("--suite=tabletop", "--tasks=lift_cube", "--axes=clean,camera,robot_init,noise",
          "--levels=2", "--seeds=1")
#: What must not depend on the worker or the order (timings may).
STABLE = ("wam.status", "wam.steps", "wam.params", "wam.episode_seed", "wam.instruction",
          "wam.chunks", "wam.error")


def junit(pytester: pytest.Pytester) -> JUnitXml:
    return JUnitXml.fromfile(str(pytester.path / "report.xml"))


def gates_suite(xml: JUnitXml):
    return next(s for s in xml if s.name == "wamrobust.gates")


def test_oracle_run_table_junit_and_the_same_results_on_any_worker_in_any_order(
        pytester, run_plugin, junit_episodes):
    """One process with a measured latency case, two workers (latency skipped, never
    passed), and one worker running the cases in reverse: identical episodes."""
    pytester.makeconftest("""
        import os
        def pytest_collection_modifyitems(items):
            if os.environ.get("REVERSE"):
                items.reverse()
    """)
    single = run_plugin("--policy=scripted", *SELECT, "-p", "no:xdist")
    assert single.ret == 0, single.stdout.str()
    single.stdout.fnmatch_lines([
        "*wamrobust: suite tabletop, policy scripted, 4 cases*",
        "*wamrobust robustness*",
        "setting * n * succ * err * success * 95% CI*",
        "clean * 1 * 1 * 0 * 100.0%*",
        "camera * 1 * 1 * 0 * 100.0%*",
        "overall * 3 * 3 * 0 * 100.0%*",
        "latency per chunk: p50 * ms, p95 * ms over * chunks",
    ])
    single.assert_outcomes(passed=5)  # 4 episodes + the measured latency case
    xml = junit(pytester)
    assert not any(s.name == "wamrobust.gates" for s in xml)  # nothing judged, no gates suite
    first = junit_episodes(pytester.path / "report.xml")
    assert sorted(first) == sorted(f"test_episode[tabletop/lift_cube/{c}]" for c in
                                   ("clean/L0/s00", "camera/L2/s00", "robot_init/L2/s00",
                                    "noise/L2/s00"))
    camera = first["test_episode[tabletop/lift_cube/camera/L2/s00]"]
    assert camera["wam.status"] == "success" and int(camera["wam.steps"]) > 0
    assert "orbit_deg" in camera["wam.params"]

    distributed = run_plugin("--policy=scripted", *SELECT, "-n", "2", "-rs")
    distributed.assert_outcomes(passed=4, skipped=1)
    distributed.stdout.fnmatch_lines(
        ["*SKIPPED*latency benchmark disabled*rerun with -p no:xdist*"])
    second = junit_episodes(pytester.path / "report.xml")
    skipped = [c for s in junit(pytester) for c in s if c.name == "test_latency[scripted]"]
    assert isinstance(skipped[0].result[0], Skipped)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REVERSE", "1")
        reverse = run_plugin("--policy=scripted", *SELECT, "-n", "1", "-v")
    assert reverse.ret == 0
    order = [line for line in reverse.stdout.lines if "PASSED" in line and "test_episode" in line]
    assert "noise" in order[0] and "clean" in order[-1]
    third = junit_episodes(pytester.path / "report.xml")

    stable = [{name: {k: props.get(k) for k in STABLE} for name, props in run_.items()}
              for run_ in (first, second, third)]
    assert stable[0] == stable[1] == stable[2]


def test_a_slow_policy_fails_the_latency_case_and_gate(pytester, run_plugin):
    pytester.makepyfile(faulty_policies=FAULTY)
    pytester.path.joinpath("gates.toml").write_text("max_chunk_latency_ms = 10\n")
    result = run_plugin("--policy=faulty_policies:faulty", "--policy-arg=lift_cube=slow",
                        *SELECT[:2], "--axes=clean", "--levels=1", "--seeds=1", "-p", "no:xdist",
                        "--wam-thresholds=gates.toml", "--benchmark-max-time=0.2")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*policy faulty: p95 chunk latency *.* ms > max_chunk_latency_ms 10",
        "latency per chunk: p50 *.* ms, p95 *.* ms, p99 *.* ms, max *.* ms over * chunks; "
        "gate p95 <= 10 ms FAIL",
        "gates (point): 0/1 held, FAILED (max_chunk_latency_ms)*",
    ])
    # the policy sleeps 30 ms per chunk: a floor no machine load can lower
    line = next(x for x in result.stdout.lines if x.startswith("latency per chunk:"))
    p50, p95, p99, most = (float(v) for v in re.findall(r"(\d+\.\d+) ms", line)[:4])
    assert 30.0 <= p50 <= p95 <= p99 <= most
    assert isinstance(next(iter(gates_suite(junit(pytester)))).result[0], Failure)


@pytest.mark.parametrize("gate, expected_exit, dist", [("0.0", 0, ("-p", "no:xdist")),
                                                       ("0.5", 1, ("-n", "2"))])
def test_gates_decide_the_exit_status(pytester, run_plugin, gate, expected_exit, dist):
    pytester.path.joinpath("gates.toml").write_text(f"clean = {gate}\nmax_chunk_latency_ms = 500\n")
    result = run_plugin("--policy=noop", *SELECT[:2], "--axes=clean", "--levels=1",
                        "--seeds=1", "--wam-thresholds=gates.toml", *dist)
    assert result.ret == expected_exit
    # noop never lifts the cube; the latency case is measured, or skipped under xdist
    result.assert_outcomes(failed=1, **({"passed": 1} if "no:xdist" in dist else {"skipped": 1}))
    verdict = "all held" if expected_exit == 0 else "FAILED (clean)"
    final = ("gates configured: all 2 held -> exit 0" if expected_exit == 0
             else "gates FAILED (clean) -> exit 1")
    result.stdout.fnmatch_lines([f"gates (point): * held, {verdict}",
                                 "unsolved episodes: clean 1 "
                                 "(1 FAILED lines folded; -rf lists them)",
                                 f"wamrobust verdict: {final}",
                                 "*= 1 failed, 1 * in *"])  # the verdict, then pytest's
    cases = {c.name: c for c in gates_suite(junit(pytester))}
    assert set(cases) == {"clean", "max_chunk_latency_ms"}
    assert bool(cases["clean"].result) == (expected_exit == 1)
    if expected_exit:
        assert isinstance(cases["clean"].result[0], Failure)
        assert "gate clean: success 0.0% < 50.0% (0/1)" in cases["clean"].result[0].message


FAULTS = {
    "close_drawer": ("raise", "policy raised RuntimeError: model exploded at step 0"),
    "open_drawer": ("nan", "NaN/inf values in an action chunk"),
    "push_to_region": ("shape",
                       "returned actions of shape (3, 2); this suite expects (chunk_length, 7)"),
}


def test_faulty_policies_error_their_cases_and_the_run_goes_on(pytester, run_plugin,
                                                               junit_episodes):
    pytester.makepyfile(faulty_policies=FAULTY)
    tasks = ",".join(["lift_cube", *FAULTS])
    result = run_plugin("--policy=faulty_policies:faulty", f"--tasks={tasks}",
                        *(f"--policy-arg={task}={fault}" for task, (fault, _) in FAULTS.items()),
                        "--suite=tabletop", "--axes=clean", "--levels=1", "--seeds=1", "-n", "2")
    assert result.ret == 1
    result.assert_outcomes(passed=1, errors=3, skipped=1)
    result.stdout.fnmatch_lines(["clean * 4 * 1 * 3 * 25.0%*"])
    cases = {c.name: c for s in junit(pytester) for c in s}
    props = junit_episodes(pytester.path / "report.xml")
    for task, (_, message) in FAULTS.items():
        name = f"test_episode[tabletop/{task}/clean/L0/s00]"
        result.stdout.fnmatch_lines([
            f"*ERROR at setup of {name.replace('[', '[[]')}*",
            (f"episode error (task={task} setting=clean level=0 seed=s00 episode_seed=* steps=0): "
             f"*{message}"),
        ])
        result.stdout.fnmatch_lines(
            [f"error tabletop/{task}/clean/L0/s00 (episode_seed *): *{message}"])
        assert isinstance(cases[name].result[0], Error) and message in cases[name].result[0].message
        assert props[name]["wam.status"] == "error" and props[name]["wam.seed"] == "0"
        assert props[name]["wam.error_kind"] in ("policy_error", "invalid_action")
    assert not cases["test_episode[tabletop/lift_cube/clean/L0/s00]"].result
    assert not any(s.name == "wamrobust.gates" for s in junit(pytester))  # no gates set


def test_a_worker_crash_is_recorded_as_an_error_with_its_seed(pytester, run_plugin,
                                                              junit_episodes):
    pytester.makepyfile(faulty_policies=FAULTY)
    result = run_plugin("--policy=faulty_policies:faulty", "--policy-arg=close_drawer=crash",
                        "--suite=tabletop", "--tasks=lift_cube,close_drawer", "--axes=clean",
                        "--levels=1", "--seeds=1", "-n", "2")
    assert result.ret == 1
    result.assert_outcomes(passed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines([
        "clean * 2 * 1 * 1 * 50.0%*",
        ("error tabletop/close_drawer/clean/L0/s00 (episode_seed *): worker 'gw*' crashed while "
         "running 'wamrobust::test_episode[[]tabletop/close_drawer/clean/L0/s00[]]'"),
    ])
    props = junit_episodes(pytester.path / "report.xml")[
        "test_episode[tabletop/close_drawer/clean/L0/s00]"]
    assert props["wam.status"] == "error" and props["wam.error_kind"] == "worker_crash"
    assert props["wam.seed"] == "0" and int(props["wam.episode_seed"]) > 0
    assert props["wam.policy"] == "scripted"  # the wrapped oracle's name, like its other cases


def test_a_policy_that_cannot_be_built_is_one_line_per_case(pytester, run_plugin,
                                                            junit_episodes):
    pytester.makepyfile(faulty_policies=FAULTY)
    pytester.syspathinsert()
    result = run_plugin("--policy=faulty_policies:broken_factory", *SELECT[:2],
                        "--axes=clean", "--levels=1", "--seeds=1", "-p", "no:xdist", inprocess=True)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_episode*",
        ("policy 'faulty_policies:broken_factory' could not be created: OSError: checkpoint "
         "/models/pi05.safetensors not found"),
    ])
    assert "Traceback" not in result.stdout.str()
    props = junit_episodes(pytester.path / "report.xml")[
        "test_episode[tabletop/lift_cube/clean/L0/s00]"]
    assert props["wam.status"] == "error" and props["wam.error_kind"] == "harness_error"


def test_a_policy_served_over_websocket_runs_through_the_plugin(pytester, run_plugin,
                                                                junit_episodes):
    """--policy=ws://... dispatches to the openpi client; `wamrobust serve` hosts the oracle."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "pytest_wamrobust", "serve", "--policy=scripted",
         "--suite=tabletop", "--host=127.0.0.1", f"--port={port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "serving 'scripted'" in server.stdout.readline()
        result = run_plugin(f"--policy=ws://127.0.0.1:{port}", *SELECT[:2],
                            "--axes=clean,camera", "--levels=1", "--seeds=1", "-n", "2")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2, skipped=1)
    props = junit_episodes(pytester.path / "report.xml")
    assert {p["wam.status"] for p in props.values()} == {"success"}
    assert all(int(p["wam.chunks"]) > 0 for p in props.values())


def test_users_write_their_own_tests_with_the_fixtures(pytester, run_plugin):
    pytester.makepyfile(test_mine="""
        def test_short(episode_spec, run_episode, policy, suite):
            result = run_episode(episode_spec)
            assert result.key == episode_spec.key and suite.name == "tabletop"
            assert result.policy == policy.metadata.name == "noop"
            assert result.steps == episode_spec.max_steps
    """)
    result = run_plugin("--policy=noop", *SELECT[:2], "--axes=clean", "--levels=1",
                        "--seeds=1", "-p", "no:xdist", "test_mine.py", "-k", "test_short")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["clean * 1 * 0 * 0 * 0.0%*"])
