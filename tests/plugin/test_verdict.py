"""The verdict a user sees: a baseline alone decides the exit status as gates do, the
line saying why is the last of the plugin's output, pytest-benchmark's "disabled under
xdist" warning is not repeated per process, and a served policy is named by its own
name with the URL beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN_SCRIPTED = Path(__file__).resolve().parents[2] / "fixtures/junit/tabletop_scripted.xml"
LIFT = ("--suite=tabletop", "--tasks=lift_cube")


def test_a_baseline_without_gates_passes_when_nothing_regressed(run_plugin):
    """Without gates unsolved episodes fail a run; with a baseline, the comparison decides."""
    result = run_plugin("--policy=scripted", *LIFT, "-n", "2", f"--wam-baseline={GOLDEN_SCRIPTED}")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["wamrobust verdict: baseline: no regression -> exit 0"])


@pytest.mark.parametrize("rule, exit_status", [("pass", 0), ("fail", 1), ("gates", 1)])
def test_a_drop_too_small_a_sample_can_show_is_inconclusive_and_the_rule_decides(
        run_plugin, pytester, rule, exit_status):
    """3 pairs per setting cannot show even 100% -> 0% after Holm: the verdict never says
    "no regression"; it names the drops it could not judge, and --wam-inconclusive=fail
    or the gates' on_inconclusive = "fail" (a strict release gate) fails the run on them."""
    if rule == "gates":
        pytester.makefile(".toml", strict='on_inconclusive = "fail"\n')
        how = f"--wam-thresholds={pytester.path / 'strict.toml'}"
        rule = "fail"
    else:
        how = f"--wam-inconclusive={rule}"
    result = run_plugin("--policy=noop", *LIFT, "--axes=clean,camera", "-n", "2",
                        f"--wam-baseline={GOLDEN_SCRIPTED}", how)
    assert result.ret == exit_status
    unclear = ("INCONCLUSIVE drops (clean: inconclusive (n=3; needs about n=9 to detect a "
               "drop of 100 pp); camera: *; overall: *)")
    rule_text = ("the inconclusive rule is fail" if rule == "fail" else
                 "not judged a regression; the inconclusive rule fail would fail it")
    result.stdout.fnmatch_lines([
        "*| Clean * | 3 * | inconclusive (n=3; needs about n=9 to detect a drop of 100 pp) |",
        f"wamrobust verdict: baseline: {unclear}; {rule_text} -> exit {exit_status}",
    ])


def test_a_baseline_without_gates_fails_a_regression_and_says_so_last(run_plugin):
    result = run_plugin("--policy=noop", *LIFT, "-n", "2", f"--wam-baseline={GOLDEN_SCRIPTED}")
    assert result.ret == 1
    plugin_lines = [line for line in result.stdout.lines if line.strip()]
    verdict = next(i for i, line in enumerate(plugin_lines) if "wamrobust verdict:" in line)
    assert plugin_lines[verdict].startswith("wamrobust verdict: baseline: REGRESSED")
    assert plugin_lines[verdict + 1].startswith("====")  # only pytest's own count follows
    assert "short test summary info" not in "\n".join(plugin_lines[verdict:])


def test_a_gate_held_on_too_few_episodes_to_tell_is_said(run_plugin, pytester):
    pytester.makefile(".toml", gates='clean = 0.5\n')
    result = run_plugin("--policy=scripted", *LIFT, "--axes=clean", "--levels=1", "--seeds=2",
                        "-n", "2",
                        f"--wam-thresholds={pytester.path / 'gates.toml'}")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "gate clean: held on too few episodes to tell (n=2, 95% interval [34.2%, 100.0%] holds "
        "the threshold 50.0%): more seeds decide it, or judge = \"wilson_lower\" holds it "
        "only when the interval clears it",
        "gates (point): 1/1 held, all held"])


@pytest.mark.parametrize("gates, line", [
    ("", "no episode played: all 2 collected episodes were skipped (reasons above); a run "
         "that measured nothing cannot pass"),
    ("clean = 0.5\n", "gates configured, but none could be judged: their settings ran no "
                      "episode"),
], ids=["no-gates", "gates"])
def test_a_run_whose_every_episode_was_skipped_does_not_pass(run_plugin, pytester, monkeypatch,
                                                             gates, line):
    """Every case's asset missing: nothing was measured, with or without gates."""
    shutil.copy(Path(__file__).parents[1] / "faulty_suites.py", pytester.path)
    pytester.makefile(".toml", gates=gates)
    monkeypatch.setenv("WAMROBUST_SUITE_FAULTS", "lift_cube=unavailable")
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    result = run_plugin("--suite=faulty_suites:faulty_tabletop", "--policy=scripted",
                        "--tasks=lift_cube", "--axes=clean", "--levels=1", "--seeds=2", "-n", "2",
                        f"--wam-thresholds={pytester.path / 'gates.toml'}")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines([f"wamrobust verdict: {line} -> exit 1"])


def test_without_gates_or_baseline_the_line_says_unsolved_episodes_fail(run_plugin):
    result = run_plugin("--policy=noop", *LIFT, "--axes=clean", "--levels=1", "-p", "no:xdist",
                        "--benchmark-disable")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "unsolved episodes: clean 1 (1 FAILED lines folded; -rf lists them)",
        "wamrobust verdict: no gates or baseline: 1 unsolved episode* fail* the run*-> exit 1",
    ])


def test_the_disabled_benchmark_warning_is_not_repeated_per_worker(run_plugin):
    result = run_plugin("--policy=scripted", *LIFT, "--axes=clean", "--levels=1", "-n", "2")
    output = result.stdout.str() + result.stderr.str()
    assert "Benchmarks are automatically disabled" not in output
    result.assert_outcomes(passed=1, skipped=1)  # the latency case says why it is skipped


@pytest.fixture
def served_scripted():
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_wamrobust", "serve", "--policy=scripted",
         "--suite=tabletop", "--port=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    banner = proc.stdout.readline()
    assert " on ws://127.0.0.1:" in banner, banner
    yield banner.split(" on ")[1].split()[0]
    proc.kill()
    proc.wait(10)


def test_a_served_policy_is_named_by_its_name_with_the_url_beside_it(run_plugin, served_scripted):
    result = run_plugin(f"--policy={served_scripted}", *LIFT, "--axes=clean", "--levels=1",
                        "-p", "no:xdist", "--benchmark-disable")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [f"suite tabletop, policy scripted ({served_scripted}): 1 episodes"])


FAULTY = Path(__file__).resolve().parents[1] / "faulty_policies.py"


@pytest.mark.parametrize("gates, verdict, status", [
    ("max_chunk_latency_ms = 10000\n",
     "wamrobust verdict: 1 of 2 episodes ended in error and errors fail the run (set "
     "max_error_rate in the gates to allow some); gates configured: all 1 held -> exit 1", 1),
    ("max_chunk_latency_ms = 10000\nmax_error_rate = 0.5\n",
     "wamrobust verdict: gates configured: all 1 held -> exit 0", 0),
], ids=["errors fail a latency-only gate", "max_error_rate allows them"])
def test_an_errored_episode_fails_the_run_unless_the_gates_allow_it(run_plugin, pytester,
                                                                     gates, verdict, status):
    """A server that went away errors its episodes; a gate on latency alone must not
    turn that into a pass."""
    pytester.makepyfile(faulty_policies=FAULTY.read_text())
    pytester.makefile(".toml", gates=gates)
    result = run_plugin("--policy=faulty_policies:faulty", "--policy-arg=lift_cube=raise",
                        "--suite=tabletop", "--tasks=lift_cube,cube_on_plate", "--axes=clean",
                        "--levels=1", "--wam-thresholds=gates.toml", "--benchmark-disable")
    assert result.ret == status, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines([verdict])


def test_a_gate_with_nothing_to_judge_stops_the_run_before_any_episode(run_plugin, pytester):
    pytester.makefile(".toml", gates="clean = 0.9\n")
    result = run_plugin("--policy=scripted", *LIFT, "--axes=camera", "--wam-thresholds=gates.toml")
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        "ERROR: gates.toml: the gate clean = 0.9 has no clean case to judge in this run; "
        "select clean with --axes (a setting list) or drop the gate")
    assert "test_episode" not in result.stdout.str()


def test_gates_that_judged_nothing_do_not_hold(run_plugin, pytester):
    """Every gated case skipped (its asset is absent on this machine): the gates judged
    nothing, so they do not hold."""
    from test_release_gate_plugin import PARTLY_INSTALLED

    pytester.makepyfile(partly_installed=PARTLY_INSTALLED)
    pytester.makefile(".toml", gates="light = 0.5\n")
    result = run_plugin("--policy=scripted", "--suite=partly_installed:make_suite",
                        "--tasks=lift_cube", "--axes=light", "--levels=1",
                        "--wam-thresholds=gates.toml", "--benchmark-disable")
    result.stdout.fnmatch_lines([
        "wamrobust verdict: gates configured, but none could be judged: their settings ran no "
        "episode -> exit 1"])
    assert result.ret == 1
