"""--wam-decide on real runs: the run stops taking episodes once every rate gate is
decided, gives the full run's verdict, and still accounts for every collected case (the
ones not played are skipped with the reason, in JUnit and in the verdict line)."""

from __future__ import annotations

import pytest
from junitparser import JUnitXml, Skipped

ONE_TASK = ("--suite=tabletop", "--tasks=lift_cube")
CASES = 24  # (clean + 7 axes) x 3 levels


def episode_cases(pytester: pytest.Pytester) -> list:
    return [c for s in JUnitXml.fromfile(str(pytester.path / "report.xml")) for c in s
            if c.name.startswith("test_episode[")]


@pytest.mark.parametrize("policy, gates, status, verdict", [
    ("scripted", "clean = 0.3\noverall = 0.3\n", 0, "all 2 held"),
    ("noop", "clean = 0.5\noverall = 0.5\n", 1, "gates FAILED (clean, overall)"),
], ids=["holds", "fails"])
def test_an_early_verdict_is_the_full_runs_and_every_case_is_accounted_for(
        run_plugin, pytester, policy, gates, status, verdict):
    pytester.makefile(".toml", gates=gates)
    # the full run's verdict is the parametrized one by a wide margin (scripted solves
    # every case, noop none); benchmarks/bench_early_verdicts.py and docs/early_verdicts.md
    # compare full and early runs at 0.1 margins
    common = (f"--policy={policy}", *ONE_TASK, "--wam-thresholds=gates.toml", "-n", "2")
    early = run_plugin(*common, "--wam-decide")
    assert early.ret == status, early.stdout.str()[-3000:]
    early.stdout.fnmatch_lines([
        f"early verdicts (--wam-decide, alpha 0.05): every gate decided after * of {CASES} "
        f"episodes in play order; * not played (skipped)",
        f"wamrobust verdict: *{verdict} (decided early: * of {CASES} episodes played in play "
        f"order) -> exit {status}"])
    cases = episode_cases(pytester)
    assert len(cases) == CASES
    skipped = [c for c in cases if c.result and isinstance(c.result[0], Skipped)]
    assert skipped, "nothing was left unplayed"
    assert all(c.result[0].message.startswith("gate verdict decided after ") for c in skipped)
    assert "never ran" not in early.stdout.str()


def test_the_play_order_interleaves_settings_and_is_the_same_everywhere(run_plugin, pytester):
    pytester.makefile(".toml", gates="clean = 0.0\n")
    listed = run_plugin("--policy=scripted", *ONE_TASK, "--wam-thresholds=gates.toml",
                        "--wam-decide", "--collect-only", "-q", junit=None)
    order = [line for line in listed.stdout.lines if "test_episode[" in line]
    assert len(order) == CASES
    first_settings = {line.split("/")[2] for line in order[:12]}
    assert len(first_settings) >= 4, order[:12]  # not setting by setting
    again = run_plugin("--policy=scripted", *ONE_TASK, "--wam-thresholds=gates.toml",
                       "--wam-decide", "--collect-only", "-q", "-p", "no:randomly", junit=None)
    assert [line for line in again.stdout.lines if "test_episode[" in line] == order


@pytest.mark.parametrize("args, line", [
    ((), "ERROR: --wam-decide stops the run once every rate gate is decided, and this run has "
         "none: set rates in the gates*"),
    (("--wam-thresholds=gates.toml", "--wam-shard=1/2"),
     "ERROR: --wam-decide cannot be used with --wam-shard: a shard sees only its part of each "
     "gate's population; drop one of them"),
    (("--wam-thresholds=gates.toml", "--wam-decide=maybe"),
     "*--wam-decide takes no value (or true/false), got 'maybe'*"),
], ids=["no gates", "with a shard", "a bad value"])
def test_bad_early_verdict_input_is_one_line(run_plugin, pytester, args, line):
    pytester.makefile(".toml", gates="clean = 0.5\n")
    result = run_plugin("--policy=scripted", *ONE_TASK, "--wam-decide", *args, junit=None)
    assert result.ret in (2, 4)
    result.stderr.fnmatch_lines([line])
    assert "test_episode" not in result.stdout.str()


@pytest.mark.slow  # a Ray runtime and 24 episodes (~60 s on 2 cores)
def test_under_ray_the_session_stops_submitting_once_decided(run_plugin, pytester):
    """The Ray driver's actors go once every gate is decided; the cases not played are
    skipped with the decision's reason, and the verdict is the full run's."""
    pytester.makefile(".toml", gates="clean = 0.3\noverall = 0.3\n")
    early = run_plugin("--policy=scripted", *ONE_TASK, "--wam-thresholds=gates.toml",
                       "--wam-decide", "--wam-ray", timeout=600)
    assert early.ret == 0, early.stdout.str()[-3000:]
    early.stdout.fnmatch_lines([
        f"wamrobust verdict: *all 2 held (decided early: * of {CASES} episodes played in play "
        f"order) -> exit 0"])
    cases = episode_cases(pytester)
    skipped = [c for c in cases if c.result and isinstance(c.result[0], Skipped)]
    assert len(cases) == CASES and skipped
    assert all(c.result[0].message.startswith("gate verdict decided after ") for c in skipped)
