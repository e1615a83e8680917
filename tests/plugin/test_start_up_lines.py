"""What a newcomer gets wrong first is one line at start-up, exit status 4, no episode:
the scripted oracle on a suite that has none, a policy name the interpreter running
pytest does not know (the line names that interpreter), and `--suite-arg`s, which reach
a suite factory that takes `options` and are refused for one that does not."""

from __future__ import annotations

import functools
import sys

import pytest

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError

ONE_CASE = ("--tasks=lift_cube", "--axes=clean", "--seeds=1", "--levels=1")


@pytest.fixture
def run(run_plugin):
    """In-process: none of these runs an episode."""
    return functools.partial(run_plugin, "-p", "no:xdist", inprocess=True, junit=None)


def one_error_line(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), lines
    assert "test_episode" not in result.stdout.str()  # not one error per case
    return lines[0].removeprefix("ERROR: ")


def test_scripted_on_a_suite_without_an_oracle_is_one_line(run):
    line = one_error_line(run("--policy=scripted", "--suite=plain_suites:no_oracle",
                              *ONE_CASE))
    assert line == ("--policy=scripted has no oracle for suite 'my_tabletop' (oracles exist "
                    "for: libero_plus, robotwin_plus, tabletop); register one under the entry "
                    "point group 'pytest_wamrobust.oracles' or pick another --policy")


def test_scripted_on_a_suite_with_an_oracle_still_starts(run):
    result = run("--policy=scripted", "--suite=tabletop", *ONE_CASE, "--collect-only")
    assert result.ret == 0


def test_unknown_policy_names_the_interpreter_it_searched(run):
    line = one_error_line(run("--policy=mynet", "--suite=tabletop"))
    assert line.startswith(f"unknown policy 'mynet' for --policy (searched the entry points of "
                           f"{sys.executable}); available: noop, ")
    assert line.endswith("(or module:callable)")
    typo = one_error_line(run("--policy=tiny-vl", "--suite=tabletop"))
    assert sys.executable in typo and typo.endswith("did you mean 'tiny-vla'?")


def test_suite_args_reach_a_factory_that_takes_options(run):
    result = run("--policy=noop", "--suite=plain_suites:with_options",
                 "--suite-arg", "name=renamed", *ONE_CASE, "--collect-only", "-q")
    assert result.ret == 0, result.stderr.str()
    assert "wamrobust::test_episode[renamed/lift_cube/clean/L0/s00]" in result.stdout.lines


def test_suite_args_from_the_ini_file_and_the_command_line_wins(pytester, run):
    pytester.makeini("""
        [pytest]
        wamrobust_suite_args =
            name=from_ini
    """)
    ids = run("--policy=noop", "--suite=plain_suites:with_options", *ONE_CASE,
              "--collect-only", "-q").stdout.lines
    assert "wamrobust::test_episode[from_ini/lift_cube/clean/L0/s00]" in ids
    ids = run("--policy=noop", "--suite=plain_suites:with_options", *ONE_CASE,
              "--suite-arg=name=cli", "--collect-only", "-q").stdout.lines
    assert "wamrobust::test_episode[cli/lift_cube/clean/L0/s00]" in ids


@pytest.mark.parametrize("args, message", [
    (("--suite=plain_suites:no_oracle", "--suite-arg", "image_size=256"),
     "suite 'plain_suites:no_oracle' does not take --suite-arg (got image_size): its factory "
     "plain_suites:no_oracle() has no 'options' parameter"),
    (("--suite=tabletop", "--suite-arg", "image_size=big"),
     "suite tabletop: --suite-arg image_size=big must be an integer from 32 to 1024 "
     "(e.g. 128 or 256)"),
    (("--suite=tabletop", "--suite-arg", "size=256"),
     "suite tabletop does not take --suite-arg size; it takes: image_size"),
    (("--suite=plain_suites:with_options", "--suite-arg", "nme=x"),
     "suite with_options does not take --suite-arg nme; it takes: name"),
    (("--suite=tabletop", "--suite-arg", "novalue"), "--suite-arg takes KEY=VALUE, got 'novalue'"),
])
def test_suite_args_a_suite_does_not_take_are_one_line(run, args, message):
    result = run("--policy=noop", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_factories_without_options_keep_working():
    """The registry's contract, without pytest: `options` only where a factory has it."""
    assert registry.make_suite("tabletop").name == "tabletop"
    assert registry.make_suite("plain_suites:with_options", {"name": "x"}).name == "x"
    assert registry.make_suite("plain_suites:with_options").name == "my_tabletop"
    with pytest.raises(UsageError, match="has no 'options' parameter"):
        registry.make_suite("plain_suites:no_oracle", {"name": "x"})


def test_the_plugin_itself_warns_nothing_before_the_first_useful_line(run_plugin):
    """pytest 9 deprecates `config.inicfg`: reading it printed a PytestRemovedIn10Warning
    from our own session code at the top of every run."""
    result = run_plugin("--policy=scripted", "--suite=tabletop", *ONE_CASE,
                        "-W", "error::pytest.PytestRemovedIn10Warning", "--wam-in-process")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, output[-3000:]
    assert "PytestRemovedIn10Warning" not in output


def test_a_builtins_replan_steps_is_applied_and_shown_or_refused_before_any_episode(
        pytester, run_plugin, run, junit_episodes):
    """noop's chunk is 8 actions, all run by default: replan_steps=2 calls it four times
    as often, and the header says so before any episode; replan_steps=9 cannot be run."""
    calls = {}
    for replan in ("8", "2"):
        result = run_plugin("--policy=noop", "--suite=tabletop", *ONE_CASE, "-p", "no:xdist",
                            "--policy-arg", f"replan_steps={replan}", "-k", "test_episode")
        result.stdout.fnmatch_lines([f"wamrobust: policy calls: chunk_length 8 (default), "
                                     f"replan_steps {replan} (--policy-arg)"])
        (props,) = junit_episodes(pytester.path / "report.xml").values()
        assert props["wam.replan_steps"] == replan and props["wam.chunk_length"] == "8"
        calls[replan] = (int(props["wam.steps"]), int(props["wam.chunks"]))
    steps = calls["8"][0]
    assert calls == {"8": (steps, -(-steps // 8)), "2": (steps, -(-steps // 2))}
    line = one_error_line(run("--policy=noop", "--suite=tabletop", *ONE_CASE,
                              "--policy-arg", "replan_steps=9"))
    assert line == ("--policy-arg replan_steps=9 cannot apply: policy 'noop' returns 8 actions "
                    "per call, so replan_steps must be 1..8")


def test_the_header_says_who_sets_the_chunking_when_only_the_built_policy_knows(run):
    """A policy whose factory offers no start-up check: what the user set, and where the
    rest is recorded."""
    result = run("--policy=scripted", "--suite=tabletop", *ONE_CASE,
                 "--policy-arg", "replan_steps=2", "-k", "nothing")
    result.stdout.fnmatch_lines([
        "wamrobust: policy calls: replan_steps 2 (--policy-arg), chunk_length: scripted's own, "
        "known once it is built (each episode's wam.chunk_length in JUnit)"])


def test_a_trained_policys_own_chunking_is_in_the_header_and_not_a_policy_arg(run):
    """tiny-vla's chunk is what it was trained on: the header reads it from the checkpoint
    (no torch on the controller), and a replan_steps for it is refused."""
    result = run("--policy=tiny-vla", "--suite=tabletop", *ONE_CASE, "-k", "nothing")
    result.stdout.fnmatch_lines(["wamrobust: policy calls: chunk_length 10 (default), "
                                 "replan_steps 5 (default)"])
    line = one_error_line(run("--policy=tiny-vla", "--suite=tabletop", *ONE_CASE,
                              "--policy-arg", "replan_steps=1"))
    assert line == ("policy 'tiny-vla' does not take --policy-arg replan_steps; it takes: "
                    "device, threads, weights")
