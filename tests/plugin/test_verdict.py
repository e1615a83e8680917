"""The verdict a user sees: a baseline alone decides the exit status as gates do, the
line saying why is the last of the plugin's output, pytest-benchmark's "disabled under
xdist" warning is not repeated per process, and a served policy is named by its own
name with the URL beside it."""

from __future__ import annotations

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


def test_a_drop_too_small_a_sample_can_show_is_said_in_the_verdict(run_plugin):
    """3 pairs per setting cannot show even 100% -> 0% after Holm: the run passes the
    baseline, and the verdict says which drops it could not judge."""
    result = run_plugin("--policy=noop", *LIFT, "--axes=clean,camera", "-n", "2",
                        f"--wam-baseline={GOLDEN_SCRIPTED}")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*| Clean * | 3 * | inconclusive (n=3; needs about n=9 to detect a drop of 100 pp) |",
        "wamrobust verdict: baseline: no significant regression, but too few cases to tell for "
        "the drops in clean, camera, overall (inconclusive) -> exit 0",
    ])


def test_a_baseline_without_gates_fails_a_regression_and_says_so_last(run_plugin):
    result = run_plugin("--policy=noop", *LIFT, "-n", "2", f"--wam-baseline={GOLDEN_SCRIPTED}")
    assert result.ret == 1
    plugin_lines = [line for line in result.stdout.lines if line.strip()]
    verdict = next(i for i, line in enumerate(plugin_lines) if "wamrobust verdict:" in line)
    assert plugin_lines[verdict].startswith("wamrobust verdict: baseline: REGRESSED")
    assert plugin_lines[verdict + 1].startswith("====")  # only pytest's own count follows
    assert "short test summary info" not in "\n".join(plugin_lines[verdict:])


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
