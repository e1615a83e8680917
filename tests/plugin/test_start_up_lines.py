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
    (("--suite=tabletop", "--suite-arg", "image_size=256"),
     "suite 'tabletop' does not take --suite-arg (got image_size): its factory "
     "pytest_wamrobust.sims.tabletop.suite:make_suite() has no 'options' parameter"),
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
