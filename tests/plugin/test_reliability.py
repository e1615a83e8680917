"""Faults injected through real runs: a policy that raises, hangs, spins, crashes or
segfaults its worker, a simulator that fails mid-episode, a served policy that stalls
or disappears, a session cut short. For each one the promise is the same: every
collected case is in the JUnit file and the table (the faulty ones as errors with one
line and their seed), no traceback reaches the user, and the exit status is the one
the gates (or the missing cases) call for.

The catalogue `FAULTS` is also what `benchmarks/bench_reliability.py` counts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties
from results_logs import wait_until_logged

HERE = Path(__file__).parents[1]  # the helper modules beside conftest.py
#: Two tasks x two settings = 4 cases: lift_cube takes the fault, cube_on_plate is the
#: healthy control that must still run (and succeed) beside it.
SELECT = ("--tasks=lift_cube,cube_on_plate", "--axes=clean,noise", "--levels=1", "--seeds=1")
CASES = 4
FAULTY_TASK = "lift_cube"
#: Gates that any policy holds and that allow errors, so the exit status shows what
#: faults alone do to the run's completeness (errors failing the run: its own tests).
LENIENT_GATES = "clean = 0.0\nnoise = 0.0\nmax_error_rate = 1.0\n"


@dataclass(frozen=True)
class Fault:
    name: str
    args: tuple[str, ...]
    message: str          # regex the faulty cases' one-line wam.error must match
    exit: int = 0         # with LENIENT_GATES
    statuses: tuple[str, ...] = ("error",)
    env: dict[str, str] = field(default_factory=dict)
    healthy_runs: bool = True   # the control task still produces a result
    served: bool = False        # the faulty policy runs behind `wamrobust serve`
    isolated: bool = False      # no -n and no `-p no:xdist`: the default isolated worker
    server_fault: str = "stall"  # the served policy's fault on the faulty task


def policy_fault(name: str, fault: str, message: str, *extra: str, **kw) -> Fault:
    return Fault(name, ("--suite=tabletop", "--policy=faulty_policies:faulty",
                        f"--policy-arg={FAULTY_TASK}={fault}", *extra), message, **kw)


def sim_fault(name: str, fault: str, message: str) -> Fault:
    return Fault(name, ("--suite=faulty_suites:faulty_tabletop", "--policy=scripted"),
                 message, env={"WAMROBUST_SUITE_FAULTS": f"{FAULTY_TASK}={fault}"})


XDIST = ("-n", "2")
NOT_RUN = ("error", "not_run")
FAULTS = [
    policy_fault("policy raises", "raise",
                 r"^policy raised RuntimeError: model exploded at step 0$"),
    policy_fault("NaN actions", "nan", r"returned \d+ NaN/inf values in an action chunk$"),
    policy_fault("inf actions", "inf", r"returned \d+ NaN/inf values in an action chunk$"),
    policy_fault("wrong action shape", "shape", r"returned actions of shape \(3, 2\); this suite "
                                                r"expects \(chunk_length, 7\)$"),
    policy_fault("non-numeric actions", "text",
                 r"returned an action chunk of dtype <U5; actions are real numbers"),
    policy_fault("None for a chunk", "none",
                 r"returned an action chunk of dtype object; actions are real numbers"),
    policy_fault("reset raises", "reset", r"^policy raised ValueError: no prompt embedding"),
    policy_fault("policy calls sys.exit", "exit", r"^policy raised SystemExit: CUDA error"),
    policy_fault("infer blocks forever", "hang", r"did not return a chunk within 1 s",
                 "--wam-infer-timeout=1"),
    policy_fault("infer spins forever", "spin", r"did not return a chunk within 1 s",
                 "--wam-infer-timeout=1"),
    policy_fault("worker killed (os._exit)", "crash", r"^worker 'gw\d' crashed while running",
                 *XDIST),
    policy_fault("worker segfaults", "segfault", r"^worker 'gw\d' crashed while running",
                 *XDIST),
    policy_fault("worker lost, no restarts left", "crash",
                 r"^(worker 'gw\d' crashed while running|never ran: its xdist worker was lost)",
                 *XDIST, "--max-worker-restart=0", exit=1, statuses=NOT_RUN, healthy_runs=False),
    policy_fault("session stopped early (-x)", "raise",
                 r"^(policy raised|never ran: the session stopped early)",
                 "-x", exit=1, statuses=NOT_RUN, healthy_runs=False),
    policy_fault("a stall per episode vs a p99 latency gate", "stall", r"",
                 "--wam-thresholds=stall_gates.toml", exit=1, statuses=("success",)),
    policy_fault("actions outside [-1, 1]", "big", r"", statuses=("success", "failure")),
    Fault("policy factory raises", ("--suite=tabletop", "--policy=faulty_policies:broken_factory"),
          r"^policy 'faulty_policies:broken_factory' could not be created: OSError: checkpoint",
          exit=1, healthy_runs=False),
    Fault("factory returns a non-policy",
          ("--suite=tabletop", "--policy=faulty_policies:not_a_policy"),
          r"the factory returned object, which lacks metadata, reset, infer", exit=1,
          healthy_runs=False),
    sim_fault("scene build fails", "build", r"^building the scene failed: FileNotFoundError"),
    sim_fault("physics step fails mid-episode", "step",
              r"^simulator raised FloatingPointError: mj_step: .* at step 12$"),
    sim_fault("success predicate fails", "success", r"^simulator raised KeyError: .*cube"),
    sim_fault("rendering fails mid-episode", "observe",
              r"^simulator raised RuntimeError: renderer lost its EGL context"),
    policy_fault("reset blocks forever, no -n", "reset_hang",
                 r"^policy 'scripted' did not return from reset within 1 s",
                 "--wam-infer-timeout=1", isolated=True),
    policy_fault("reset blocks forever, -n 1", "reset_hang",
                 r"^policy 'scripted' did not return from reset within 1 s",
                 "--wam-infer-timeout=1", "-n", "1"),
    policy_fault("infer swallows the deadline (catches everything)", "swallow",
                 r"^worker 'gw\d' crashed while running", "--wam-infer-timeout=1",
                 isolated=True),
    policy_fault("infer swallows the deadline, -n 2", "swallow",
                 r"^worker 'gw\d' crashed while running", "--wam-infer-timeout=1", *XDIST),
    policy_fault("policy ends the process with os._exit(0), no -n", "exit0",
                 r"^worker 'gw\d' crashed while running", isolated=True),
    policy_fault("policy segfaults, no -n", "segfault",
                 r"^worker 'gw\d' crashed while running", isolated=True),
    policy_fault("infer blocks forever, no -n", "hang", r"did not return a chunk within 1 s",
                 "--wam-infer-timeout=1", isolated=True),
    policy_fault("policy raises asyncio.CancelledError (a BaseException)", "cancelled",
                 r"^policy raised CancelledError at step 0$"),
    policy_fault("policy raises asyncio.CancelledError, no -n", "cancelled",
                 r"^policy raised CancelledError at step 0$", isolated=True),
    Fault("policy factory never returns",
          ("--suite=tabletop", "--policy=faulty_policies:hanging_factory",
           "--wam-infer-timeout=1"),
          r"^policy 'faulty_policies:hanging_factory' could not be created: policy "
          r"'faulty_policies:hanging_factory' did not return from its factory within 1 s",
          exit=1, healthy_runs=False, isolated=True),
    Fault("served policy stalls past the deadline", ("--wam-infer-timeout=1",),
          r"did not return a chunk within 1 s", served=True),
    Fault("served policy stalls past the deadline, no -n", ("--wam-infer-timeout=1",),
          r"did not return a chunk within 1 s", served=True, isolated=True),
    Fault("served policy raises", (), r"^policy server ws://127\.0\.0\.1:\d+ .*RuntimeError",
          served=True, server_fault="raise"),
    Fault("served policy returns NaN", ("-n", "2"), r"NaN", served=True, server_fault="nan"),
    policy_fault("policy raises, -n 2", "raise",
                 r"^policy raised RuntimeError: model exploded at step 0$", *XDIST),
    policy_fault("NaN actions, no -n", "nan", r"returned \d+ NaN/inf values in an action chunk$",
                 isolated=True),
    policy_fault("boolean actions", "bool",
                 r"returned an action chunk of dtype bool; actions are real numbers"),
    policy_fault("complex actions", "complex",
                 r"returned an action chunk of dtype complex128; actions are real numbers"),
    Fault("policy server killed mid-run", (), r"^policy server ws://127\.0\.0\.1:\d+ ",
          served=True, statuses=("error", "success"), healthy_runs=False),
]


def fault_id(fault: Fault) -> str:
    return re.sub(r"\W+", "-", fault.name).strip("-")


def copy_helpers(folder: Path) -> None:
    for name in ("faulty_policies.py", "faulty_suites.py"):
        shutil.copy(HERE / name, folder / name)
    (folder / "lenient_gates.toml").write_text(LENIENT_GATES)
    (folder / "stall_gates.toml").write_text(
        LENIENT_GATES + "max_chunk_latency_ms = 500\nlatency_stat = \"p99\"\n")


def serve(folder: Path, *policy_args: str) -> tuple[subprocess.Popen, str]:
    """`wamrobust serve` on a free port of 127.0.0.1, with the faulty policy."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_wamrobust", "serve", "--policy=faulty_policies:faulty",
         "--suite=tabletop", "--host=127.0.0.1", "--port=0", *policy_args],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(folder)})
    line = proc.stdout.readline()
    match = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        raise AssertionError(f"wamrobust serve did not start: {line}{proc.stdout.read()}")
    return proc, f"ws://127.0.0.1:{match[1]}"


@dataclass
class Outcome:
    exit: int
    output: str
    episodes: dict[str, dict[str, str]]


def run_fault(fault: Fault, folder: Path) -> Outcome:
    """One real pytest process with the fault injected; what the user gets back."""
    copy_helpers(folder)
    args = list(fault.args)
    server = None
    if fault.served:
        if "killed" in fault.name:
            server, url = serve(folder)
            (folder / "killer.py").write_text(
                "import os, signal\n"
                "def pytest_runtest_logreport(report):\n"
                "    if report.when == 'teardown' and 'test_episode' in report.nodeid:\n"
                f"        try: os.kill({server.pid}, signal.SIGKILL)\n"
                "        except ProcessLookupError: pass\n")
            args += ["-p", "killer"]
        else:
            server, url = serve(folder, f"--policy-arg={FAULTY_TASK}={fault.server_fault}")
        args += ["--suite=tabletop", f"--policy={url}"]
    if not any(a.startswith("--wam-thresholds") for a in args):
        args.append("--wam-thresholds=lenient_gates.toml")
    if "-n" not in args and not fault.isolated:
        args += ["-p", "no:xdist"]
    env = {**os.environ, **fault.env, "PYTHONPATH": str(folder)}
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        env.pop(name, None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
             "--junitxml=report.xml", "--benchmark-disable", *SELECT, *args],
            cwd=folder, env=env, capture_output=True, text=True, timeout=240)
    finally:
        if server is not None:
            server.send_signal(signal.SIGKILL)
            server.wait(10)
    return Outcome(proc.returncode, proc.stdout + proc.stderr, read_episodes(folder / "report.xml"))


def read_episodes(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    found = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            props = case.child(Properties)
            if case.name.startswith("test_episode["):
                found[case.name] = {p.name: p.value for p in props} if props is not None else {}
    return found


def problems(fault: Fault, outcome: Outcome) -> list[str]:
    """Everything that breaks the promise for this fault; empty when it held."""
    found = []
    if outcome.exit != fault.exit:
        found.append(f"exit status {outcome.exit}, expected {fault.exit}")
    for marker in ("Traceback (most recent call last)", "During handling of the above"):
        if marker in outcome.output:
            found.append(f"the output holds a traceback ({marker!r})")
    if len(outcome.episodes) != CASES:
        found.append(f"{CASES - len(outcome.episodes)} of {CASES} cases lost from JUnit")
    if f": {CASES} episodes" not in outcome.output:
        found.append(f"the table does not count all {CASES} episodes")
    for name, props in outcome.episodes.items():
        status, error = props.get("wam.status", "<none>"), props.get("wam.error", "")
        if "\n" in error:
            found.append(f"{name}: a multi-line error")
        if FAULTY_TASK in name:
            if status not in fault.statuses:
                found.append(f"{name}: status {status}, expected one of {fault.statuses}")
            if status in NOT_RUN and not re.search(fault.message, error):
                found.append(f"{name}: error {error!r} does not match {fault.message!r}")
            if status in NOT_RUN and not props.get("wam.episode_seed"):
                found.append(f"{name}: the error lost its episode seed")
        elif fault.healthy_runs and status not in ("success", "failure"):
            found.append(f"{name}: the healthy control did not run ({status}: {error})")
    return found


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
def test_a_fault_costs_its_cases_not_the_run(fault, tmp_path):
    outcome = run_fault(fault, tmp_path)
    found = problems(fault, outcome)
    assert not found, "\n".join(found) + "\n" + outcome.output[-3000:]
    if fault.name == "a stall per episode vs a p99 latency gate":
        assert re.search(r"gate p99 <= 500 ms FAIL", outcome.output), outcome.output[-2000:]
    if fault.name == "actions outside [-1, 1]":
        clipped = [int(p["wam.clipped_values"]) for n, p in outcome.episodes.items()
                   if FAULTY_TASK in n]
        assert all(c > 0 for c in clipped)
        assert re.search(r"actions outside \[-1, 1\]: \d+ values clipped in 2 of 4 episodes",
                         outcome.output)
    if "no restarts left" in fault.name or "-x" in fault.args:
        assert "never ran: counted as errors" in outcome.output
        statuses = [p["wam.status"] for p in outcome.episodes.values()]
        assert "not_run" in statuses


def test_the_fault_catalogue_is_large_enough():
    assert len({f.name for f in FAULTS}) >= 40


def test_a_deadline_off_waits_for_a_slow_policy(tmp_path):
    """`--wam-infer-timeout=0` lifts the deadline: a stall is waited for, not an error."""
    fault = policy_fault("stall, no deadline", "stall", r"", "--wam-infer-timeout=0",
                         statuses=("success",))
    outcome = run_fault(fault, tmp_path)
    assert not problems(fault, outcome), outcome.output[-3000:]


def test_the_deadline_runs_infer_on_the_thread_that_built_the_policy(tmp_path):
    """Thread-local settings (torch's intra-op threads) must be the policy's own, or the
    deadline would change its numbers: every episode succeeds only if infer stays put."""
    fault = Fault("infer on the building thread", ("--suite=tabletop",
                  "--policy=faulty_policies:faulty", "--policy-arg=same_thread=1"), r"",
                  statuses=("success",))
    outcome = run_fault(fault, tmp_path)
    assert not problems(fault, outcome), outcome.output[-3000:]
    assert {p["wam.status"] for p in outcome.episodes.values()} == {"success"}


def test_timed_out_call_leaves_the_next_episode_a_fresh_policy(tmp_path):
    """After an abandoned call the instance is rebuilt: the control task still succeeds
    in the same worker, with the deadline's thread hand-off kept out of the latency."""
    outcome = run_fault(FAULTS[8], tmp_path)
    healthy = [p for n, p in outcome.episodes.items() if FAULTY_TASK not in n]
    assert healthy and all(p["wam.status"] == "success" for p in healthy)
    assert all(float(p["wam.latency_p50_ms"]) < 50 for p in healthy)


def test_wall_time_of_a_hung_policy_is_bounded(tmp_path):
    started = time.monotonic()
    run_fault(FAULTS[9], tmp_path)
    assert time.monotonic() - started < 60


def latency_case_run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """A run whose latency case is measured (one process, pytest-benchmark on) with a
    policy that blocks forever on the task that case times (the suite's first)."""
    copy_helpers(folder)
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
         "--junitxml=report.xml", "--suite=tabletop", "--policy=faulty_policies:faulty",
         f"--policy-arg={FAULTY_TASK}=hang", "--wam-infer-timeout=1", *SELECT, *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_a_latency_case_that_hangs_is_cut_at_the_deadline(tmp_path):
    """pytest-benchmark calls infer in a loop of its own: each call has the deadline too,
    so the run ends with every case and the latency case failed in one line."""
    proc = latency_case_run(tmp_path, "-p", "no:xdist",
                            "--wam-thresholds=lenient_gates.toml")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert "FAILED wamrobust::test_latency[faulty]" in output, output[-3000:]
    assert re.search(r"_ test_latency\[faulty\] _+\npolicy 'scripted' did not return a chunk "
                     r"within 1 s", output), output[-3000:]
    assert "Traceback" not in output
    assert len(read_episodes(tmp_path / "report.xml")) == CASES


@pytest.mark.parametrize("placement", [(), ("-n", "2")], ids=["no -n", "-n 2"])
def test_sigterm_keeps_every_case_and_leaves_no_process(placement, tmp_path):
    """What CI runners and schedulers send: the JUnit file holds every case, those not
    played as never-run errors, the exit status says interrupted, and no worker is left."""
    copy_helpers(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
         "--junitxml=report.xml", "--suite=tabletop", "--policy=faulty_policies:faulty",
         "--policy-arg=stack_cubes=hang", "--wam-infer-timeout=0", "--tasks=lift_cube,stack_cubes",
         "--axes=clean", "--levels=1", "--seeds=2", *placement],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    # the lift_cube cases are played (their results logged after the run's identity), and
    # stack_cubes then hangs for good: interrupted with cases played, in play and to play
    if not wait_until_logged(tmp_path / "report.xml.wamlog.jsonl", 2, proc, timeout_s=120):
        raise AssertionError(proc.communicate()[0][-3000:] if proc.poll() is not None
                             else "the lift_cube results were not logged within 120 s")
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, output[-3000:]
    episodes = read_episodes(tmp_path / "report.xml")
    assert len(episodes) == 4, output[-3000:]
    statuses = {n: p["wam.status"] for n, p in episodes.items()}
    assert any(s == "not_run" for s in statuses.values()), statuses
    assert "never ran: the session was interrupted" in output
    left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout
    assert not left.strip(), f"processes left in the session: {left}"
