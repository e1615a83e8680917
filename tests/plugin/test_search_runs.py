"""--wam-search end to end on the tabletop suite: real rollouts, Hypothesis' engine,
the JUnit properties, the gate and exit status, the example database, -n 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.search.breaking_point import SearchKey, SearchResult
from pytest_wamrobust.core.search.replay import save_failure
from pytest_wamrobust.sims.tabletop.suite import make_suite

POLICIES = Path(__file__).parents[1].joinpath("search_policies.py").read_text()
LIFT = ("--suite=tabletop", "--tasks=lift_cube", "-k", "test_search")


def test_noop_breaks_at_the_clean_scene(run_plugin, junit_searches):
    result = run_plugin("--policy=noop", *LIFT, "--axes=light", "--wam-search=3",
                        "--wam-examples=ex")
    assert result.ret == 1
    result.assert_outcomes(failed=1)
    props = junit_searches("report.xml")["test_search[tabletop/lift_cube/light]"]
    assert props["wam.breaking_magnitude"] == "0.00" and props["wam.breaking_level"] == "0"
    assert json.loads(props["wam.breaking_params"])["intensity_log2"] == 0.0
    assert props["wam.search"] == "tabletop/lift_cube/light"
    assert "wam.status" not in props  # not an episode: the robustness table ignores it
    result.stdout.fnmatch_lines([
        "breaking point: smallest failing magnitude m per task and axis*",
        "task*light", "lift_cube*0.00", "median*0.00",
        "wamrobust verdict: no gates or baseline: 1 search that found a failure fails the run "
        "(gates judge rates and breaking points*",
    ])
    from pytest_wamrobust.cli import main

    assert main(["report", "report.xml", "--markdown", "report.md", "--html", "r.html"]) == 0
    markdown = Path("report.md").read_text()
    assert "| noop   | lift_cube | 0.00  |" in markdown
    assert "| noop   | median    | 0.00  |" in markdown
    assert Path("r.html").read_text().count('alt="breaking-point heatmap"') == 1


def test_the_oracle_never_breaks_on_a_visual_axis(pytester, run_plugin, junit_searches):
    pytester.path.joinpath("gates.toml").write_text("min_breaking_magnitude = 0.4\n")
    result = run_plugin("--policy=scripted", *LIFT, "--axes=light", "--wam-search=4",
                        "--wam-examples=ex", "--wam-thresholds=gates.toml")
    assert result.ret == 0, result.stdout.str()
    props = junit_searches(pytester.path / "report.xml")["test_search[tabletop/lift_cube/light]"]
    assert (props["wam.breaking_magnitude"], props["wam.search_found"],
            props["wam.search_examples"]) == ("1.00", "false", "4")
    assert props["wam.search_summary"] == "no failure in 4 examples (breaking magnitude 1)"
    result.stdout.fnmatch_lines(["lift_cube*>=1", "median*1.00",
                                 "wamrobust verdict: gates configured: all 1 held -> exit 0"])


def test_a_known_breaking_point_is_found_kept_replayed_and_gated(pytester, run_plugin,
                                                                 junit_searches):
    """clause_averse breaks on the language axis from level 3 (m = 0.41) on; the search
    shrinks to exactly that, keeps it, finds it first next time, and the gate judges it."""
    pytester.makepyfile(search_policies=POLICIES)
    args = ("--policy=search_policies:clause_averse", *LIFT, "--axes=language",
            "--wam-search=20", "--wam-examples=ex")
    first = run_plugin(*args)
    assert first.ret == 1
    one = junit_searches(pytester.path / "report.xml")["test_search[tabletop/lift_cube/language]"]
    assert one["wam.breaking_magnitude"] == "0.41" and one["wam.breaking_level"] == "3"
    assert json.loads(one["wam.breaking_params"])["kind"] == "distractor"
    assert ";" in one["wam.breaking_instruction"]
    assert any(pytester.path.joinpath("ex").rglob("*"))  # plain files a CI job can keep

    pytester.path.joinpath("gates.toml").write_text("min_breaking_magnitude = 0.4\n")
    second = run_plugin(*args, "--wam-thresholds=gates.toml")
    assert second.ret == 0, second.stdout.str()
    two = junit_searches(pytester.path / "report.xml")["test_search[tabletop/lift_cube/language]"]
    assert (two["wam.breaking_magnitude"], two["wam.breaking_params"]) == (
        one["wam.breaking_magnitude"], one["wam.breaking_params"])
    assert int(two["wam.search_examples"]) < int(one["wam.search_examples"])

    pytester.path.joinpath("gates.toml").write_text(
        "min_breaking_magnitude = { default = 0.1, language = 0.5 }\n")
    third = run_plugin(*args, "--wam-thresholds=gates.toml")
    assert third.ret == 1
    third.stdout.fnmatch_lines([
        "*breaks at m=0.41 (level 3*; below min_breaking_magnitude 0.5",
        "wamrobust verdict: gates FAILED (min_breaking_magnitude[language]) -> exit 1"])


def test_a_nondeterministic_policy_is_said_to_be_one(pytester, run_plugin):
    pytester.makepyfile(search_policies=POLICIES)
    result = run_plugin("--policy=search_policies:fails_once", *LIFT, "--axes=light",
                        "--wam-search=3", "--wam-examples=ex")
    assert result.ret == 1
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*error tabletop/lift_cube/light: *the policy or the simulator is nondeterministic*",
        "wamrobust verdict: 1 of 1 cases (episodes and breaking-point searches) never ran or "
        "could not be judged; an incomplete run cannot pass -> exit 1"])


def test_a_search_that_never_ran_is_an_error_not_absent(run_plugin):
    """-x stops the session at the first unsolved episode: the search case never runs."""
    result = run_plugin("--policy=noop", "--suite=tabletop", "--tasks=lift_cube",
                        "--axes=light", "--levels=1", "--wam-search=2", "--wam-examples=ex",
                        "-x", "-p", "no:randomly", "--wam-in-process")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*error tabletop/lift_cube/light: never ran: the session stopped early*",
        "wamrobust verdict: 1 of 2 cases (episodes and breaking-point searches) never ran or "
        "could not be judged*"])


@pytest.mark.parametrize(("args", "line"), [
    (("--wam-search=0",), "*--wam-search takes a positive number of examples*got 0"),
    (("--wam-search=many",), "*--wam-search takes a whole number of examples*'many'"),
    (("--wam-search=2", "--wam-examples=afile/sub"), "*--wam-examples afile/sub: cannot write "
                                                     "there*pass a writable folder"),
    (("--wam-search=2", "--axes=clean"), "*--wam-search explores perturbation axes*"),
    (("--wam-replay", "tests"), "*--wam-replay takes no value (or true/false), got 'tests' "
                                "(a test path after it? put --wam-replay last)"),
])
def test_bad_search_input_is_one_line(pytester, run_plugin, args, line):
    pytester.path.joinpath("afile").write_text("a file, not a folder")
    result = run_plugin("--policy=noop", "--suite=tabletop", *args, junit=None)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([line])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.slow
def test_the_search_is_deterministic_under_xdist(pytester, run_plugin, junit_searches):
    """Same command twice, and -n 2 against -n 0: the same breaking points."""
    pytester.makepyfile(search_policies=POLICIES)
    outcomes = []
    for i, dist in enumerate(("-n0", "-n0", "-n2")):
        run_plugin("--policy=search_policies:clause_averse", "--suite=tabletop",
                   "--tasks=lift_cube,open_drawer", "--axes=language,light", "-k",
                   "test_search", "--wam-search=8", f"--wam-examples=ex{i}", dist)
        outcomes.append({name: (p["wam.breaking_magnitude"], p["wam.breaking_params"],
                                p["wam.search_examples"])
                         for name, p in junit_searches(pytester.path / "report.xml").items()})
    assert len(outcomes[0]) == 4
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_kept_failures_replay_as_episode_cases_that_fail_again(pytester, run_plugin, junit_searches,
                                                               junit_episodes):
    """The search keeps clause_averse's failure; --wam-replay runs exactly it as an
    episode case (same parameters, instruction, episode seed) that fails again, and the
    next release's replay run is paired with it by --wam-baseline, under -n 2."""
    pytester.makepyfile(search_policies=POLICIES)
    run_plugin("--policy=search_policies:clause_averse", *LIFT, "--axes=language",
               "--wam-search=20", "--wam-examples=ex")
    found = junit_searches(pytester.path / "report.xml")["test_search[tabletop/lift_cube/language]"]
    kept = list(pytester.path.joinpath("ex", "replay").rglob("*.json"))
    assert len(kept) == 1

    replay = run_plugin("--policy=search_policies:clause_averse", "--suite=tabletop",
                        "--wam-examples=ex", "--wam-replay", junit="base.xml")
    assert replay.ret == 1
    ((name, props),) = junit_episodes(pytester.path / "base.xml").items()
    assert name == f"test_episode[tabletop/lift_cube/language/m0.41/{kept[0].stem}]"
    assert props["wam.status"] == "failure" and props["wam.level"] == "3"
    assert (props["wam.params"], props["wam.instruction"], props["wam.episode_seed"]) == (
        found["wam.breaking_params"], found["wam.breaking_instruction"],
        found["wam.breaking_episode_seed"])
    replay.stdout.fnmatch_lines(["language *1 *0 *0 *0.0%*"])

    fixed = run_plugin("--policy=scripted", "--suite=tabletop", "--wam-examples=ex",
                       "--wam-baseline=base.xml", "-n", "2", "--wam-replay")
    assert fixed.ret == 0, fixed.stdout.str()
    ((_, props),) = junit_episodes(pytester.path / "report.xml").items()
    assert props["wam.status"] == "success" and props["wam.replay"] == f"m0.41/{kept[0].stem}"
    fixed.stdout.fnmatch_lines(["*Language*1*0.0*100.0*", "*baseline: no regression -> exit 0"])


def test_replay_with_nothing_kept_is_one_line(run_plugin):
    result = run_plugin("--policy=noop", "--suite=tabletop", "--wam-examples=ex",
                        "--wam-replay", junit=None)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wam-replay: no stored failure of suite tabletop in the "
                                 "selected tasks and axes under ex*--wam-search keeps them*"])


@pytest.mark.slow
def test_ray_actors_play_a_replay_case_with_its_stored_parameters(pytester, run_plugin,
                                                                   junit_episodes):
    """The actor cannot draw a replay case's parameters from its key: it gets them."""
    pytest.importorskip("ray", reason="pip install 'pytest-wamrobust[ray]'")
    params = {"ambient": 0.069, "azimuth_deg": -20.7, "elevation_deg": -6.9,
              "intensity_log2": -0.345, "tint": [-0.138, -0.138, -0.138]}
    save_failure(pytester.path / "ex", SearchResult(
        SearchKey("tabletop", "lift_cube", "light"), "noop", 3, 3, found=True,
        breaking_magnitude=0.23, params=params, episode_seed=1657306580))
    grid = make_suite().episode_spec(CaseKey("tabletop", "lift_cube", "light", 2, 0))
    assert dict(grid.params) != params  # what the suite would draw from the key
    result = run_plugin("--policy=noop", "--suite=tabletop", "--wam-examples=ex",
                        "-k", "test_episode", "--wam-ray", "--wam-replay", timeout=300)
    assert result.ret == 1, result.stdout.str()
    ((_, props),) = junit_episodes(pytester.path / "report.xml").items()
    assert json.loads(props["wam.params"]) == params and "wam.ray_actor" in props
    assert props["wam.episode_seed"] == "1657306580"
