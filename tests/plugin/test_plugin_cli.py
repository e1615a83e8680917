"""The plugin's command line: bad input is one clear line before any episode runs,
options and their ini equivalents select the same readable case ids, and loading the
plugin stays cheap."""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest

SELECT = ("--suite=tabletop", "--tasks=lift_cube", "--levels=1", "--seeds=1")


@pytest.fixture
def run(run_plugin):
    """In-process: nothing here runs an episode, and a fresh interpreter costs ~2 s."""
    return functools.partial(run_plugin, inprocess=True, junit=None)


def error_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stderr.lines if line.strip()]


def test_plugin_import_loads_no_simulator_or_torch():
    code = ("import sys, pytest_wamrobust.plugin; "
            "print([m for m in ('torch', 'mujoco', 'sapien') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_options_in_one_group(run):
    result = run("--help")
    text = result.stdout.str()
    section = text[text.index("robustness evaluation of robot policies"):]
    for flag in ("--policy=", "--suite=", "--tasks=", "--axes=", "--seeds=", "--levels=",
                 "--wam-thresholds=", "--policy-arg=", "--wam-shard=", "--wam-sample=",
                 "--wam-video=", "--wam-artifacts=", "--wam-baseline="):
        assert flag in section
    assert "wamrobust_policy" in text and "wamrobust_policy_args" in text


def test_case_ids_read_like_the_case(run):
    result = run("--policy=noop", *SELECT, "--axes=clean,camera", "--collect-only", "-q")
    assert result.ret == 0
    assert result.stdout.lines[:3] == [
        "wamrobust::test_episode[tabletop/lift_cube/clean/L0/s00]",
        "wamrobust::test_episode[tabletop/lift_cube/camera/L1/s00]",
        "wamrobust::test_latency[noop]",
    ]


def test_ini_options_select_the_same_cases(pytester, run):
    pytester.makeini("""
        [pytest]
        wamrobust_policy = noop
        wamrobust_suite = tabletop
        wamrobust_tasks = lift_cube,stack_cubes
        wamrobust_axes = light
        wamrobust_levels = 2-3
        wamrobust_seeds = 2
    """)
    result = run("--collect-only", "-q", "--tasks=stack_cubes")
    ids = [line for line in result.stdout.lines if line.startswith("wamrobust::test_episode")]
    assert ids == [f"wamrobust::test_episode[tabletop/stack_cubes/light/L{level}/s0{seed}]"
                   for level in (2, 3) for seed in (0, 1)]


@pytest.mark.parametrize("args, message", [
    (("--policy=nope",), "ERROR: unknown policy 'nope' for --policy (searched the entry "
                         f"points of {sys.executable}); available: "),
    (("--policy=noop", "--suite=nowhere"),
     f"ERROR: unknown suite 'nowhere' for --suite (searched the entry points of "
     f"{sys.executable}); available: "),
    (("--policy=no_such_module:make",), "cannot import 'no_such_module'"),
    (("--suite=tabletop",), "ERROR: --suite needs --policy"),
    (("--policy=noop", "--suite=tabletop", "--tasks=lift"),
     "ERROR: unknown task 'lift' in suite 'tabletop'"),
])
def test_unknown_names_are_one_line(run, args, message):
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("ERROR:")
    assert message.removeprefix("ERROR: ") in lines[0]
    assert "Traceback" not in result.stdout.str()


def test_unknown_policy_lists_the_registered_ones(run):
    line = error_lines(run("--policy=nope"))[0]
    assert "noop" in line and "random" in line and "scripted" in line


@pytest.mark.parametrize("flag, message", [
    ("--levels=0-7", "invalid level '0-7': levels run 1-5"),
    ("--levels=high", "invalid level 'high': use e.g. 1,3,5 or 1-5"),
    ("--axes=clean,camra", "unknown setting 'camra'; choose from clean,camera,"),
    ("--seeds=0", "--seeds must be 1-10000, got 0"),
    ("--policy-arg=novalue", "--policy-arg takes KEY=VALUE"),
])
def test_malformed_options_die_at_the_command_line(run, flag, message):
    result = run("--policy=noop", "--suite=tabletop", flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(message in line for line in result.stderr.lines)


@pytest.mark.parametrize("content, message", [
    ("clean = 1.5\n", "clean = 1.5 must be a success rate in [0, 1]"),
    ("camra = 0.5\n", "unknown threshold 'camra'"),
    ("clean = 'most'\n", "clean = 'most' is not a number"),
    ("clean = = 1\n", "is not valid TOML"),
])
def test_malformed_thresholds_file_is_one_line_and_runs_nothing(pytester, run, content, message):
    pytester.path.joinpath("gates.toml").write_text(content)
    result = run("--policy=noop", *SELECT, "--wam-thresholds=gates.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = error_lines(result)
    assert len(lines) == 1 and message in lines[0] and "gates.toml" in lines[0]
    assert "test_episode" not in result.stdout.str()


def test_ini_thresholds_file_is_relative_to_the_ini_file(pytester, run):
    pytester.mkdir("ci").joinpath("gates.toml").write_text("clean = 2\n")
    pytester.makeini("[pytest]\nwamrobust_thresholds = ci/gates.toml\n")
    sub = pytester.mkdir("sub")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        result = run("--policy=noop", *SELECT, f"--rootdir={pytester.path}",
                     f"-c={pytester.path / 'tox.ini'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ci/gates.toml: clean = 2 must be a success rate" in error_lines(result)[0]


def test_missing_thresholds_file_names_it(run):
    result = run("--policy=noop", *SELECT, "--wam-thresholds=nowhere.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot read thresholds file nowhere.toml" in error_lines(result)[0]


def test_bad_thresholds_in_pyproject_stop_the_run_too(pytester, run):
    pytester.makepyprojecttoml("[tool.wamrobust.thresholds]\nlight = 2\n")
    result = run("--policy=noop", *SELECT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "[tool.wamrobust.thresholds]: light = 2 must be a success rate" in error_lines(result)[0]


def test_without_paths_only_the_generated_cases_run(pytester, run):
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    only = run("--policy=noop", *SELECT, "--collect-only", "-q")
    assert "test_other" not in only.stdout.str()
    both = run("--policy=noop", *SELECT, "--collect-only", "-q", ".")
    assert "test_other.py::test_other" in both.stdout.str()
    assert "wamrobust::test_episode[tabletop/lift_cube/clean/L0/s00]" in both.stdout.str()


def test_hypothesis_profiles_are_registered_without_a_deadline(pytester, run):
    # get_profile, not --hypothesis-profile: loading one in-process would change this
    # process' own Hypothesis settings for the tests that follow
    pytester.makepyfile(test_profile="""
        from hypothesis import settings
        def test_deadline():
            for name in ("wamrobust-quick", "wamrobust-ci", "wamrobust-full"):
                assert settings.get_profile(name).deadline is None
    """)
    run().assert_outcomes(passed=1)


def test_a_profile_the_project_registered_is_never_replaced(pytester, run):
    pytester.makeconftest("""
        from hypothesis import settings
        settings.register_profile("wamrobust-ci", max_examples=3)
    """)
    pytester.makepyfile(test_profile="""
        from hypothesis import settings
        def test_kept():
            assert settings.get_profile("wamrobust-ci").max_examples == 3
            assert settings.get_profile("wamrobust-full").max_examples == 500
    """)
    run().assert_outcomes(passed=1)


def test_a_stratified_sample_keeps_k_cases_per_setting_and_level(run):
    args = ("--policy=scripted", "--suite=tabletop", "--seeds=3", "--levels=1,5", "--co", "-q")
    result = run(*args, "--wam-sample=2")
    ids = [line for line in result.stdout.lines if "test_episode[" in line]
    assert len(ids) == 2 + 7 * 2 * 2  # clean (level 0) + 7 axes x 2 levels, 2 each
    assert len({line.split("/")[1] for line in ids}) > 2  # spread over tasks, not the first
    again = run(*args, "--wam-sample=2")
    assert [line for line in again.stdout.lines if "test_episode[" in line] == ids
    bad = run(*args, "--wam-sample=0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid sample size '0'" in bad.stderr.str()
