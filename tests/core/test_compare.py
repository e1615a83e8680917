"""`wamrobust compare` / `--wam-baseline`: a planted regression is caught, noise is not."""

from __future__ import annotations

import dataclasses
import re

import pytest
from report_data import FIXTURES, grid_results, grid_suite

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.judging.compare import (
    IMPROVED,
    INCONCLUSIVE,
    NO_CHANGE,
    REGRESSED,
    cases_needed,
    compare_results,
    holm,
)
from pytest_wamrobust.core.judging.stats import mcnemar_exact
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import FAILURE, SUCCESS
from pytest_wamrobust.records.junit import results_of_one_policy, write_results

SUITE = grid_suite(tasks=4, levels=(1, 2, 3, 4, 5), seeds=4)  # 80 cases per setting


def flip(results, axis, to, fraction, policy="candidate"):
    """A copy of `results` as another policy, with `fraction` of `axis`'s cases set to `to`."""
    out, flipped, eligible = [], 0, sum(r.key.setting == axis and r.status != to for r in results)
    for r in results:
        r = dataclasses.replace(r, policy=policy)
        if r.key.setting == axis and r.status != to and flipped < fraction * eligible:
            r = dataclasses.replace(r, status=to)
            flipped += 1
        out.append(r)
    return out


def test_planted_regression_on_one_axis_is_detected():
    base = grid_results("release", 0.8, SUITE)
    cand = flip(base, "light", FAILURE, 0.5)
    result = compare_results(base, cand)
    assert result.regressed
    assert result.row("light").verdict == REGRESSED
    assert result.row("light").only_baseline > 20 and result.row("light").only_candidate == 0
    assert {r.setting for r in result.rows if r.verdict == REGRESSED} <= {"light", "overall"}


def test_no_change_candidate_is_not_flagged():
    """A rerun with independent noise (same rates, different outcomes) must pass."""
    base = grid_results("release", 0.8, SUITE, salt="run1")
    cand = grid_results("candidate", 0.8, SUITE, salt="run2")
    result = compare_results(base, cand)
    assert not result.regressed
    assert all(r.verdict in (NO_CHANGE, INCONCLUSIVE) for r in result.rows)


def test_a_drop_too_few_cases_can_show_is_inconclusive_with_the_n_it_needs():
    """Camera 6/6 -> 0/6 is not significant after Holm over the rows; "no significant
    change" would read as reassurance, so the row says what would decide it."""
    small = grid_suite(tasks=2, levels=(1, 3, 5), seeds=1)  # 6 cases per setting
    base = grid_results("release", 1.0, small, salt="run1")
    cand = flip(base, "camera", FAILURE, 1.0)
    row = compare_results(base, cand).row("camera")
    assert (row.n, row.only_baseline, row.only_candidate) == (6, 6, 0)
    assert row.verdict == INCONCLUSIVE
    assert re.fullmatch(rf"inconclusive \(n={row.n}; needs about n=\d+ to detect a drop of "
                        rf"100 pp\)", row.verdict_text)
    assert row.cases_needed > row.n


def test_cases_needed_scales_the_discordance_until_mcnemar_rejects():
    assert cases_needed(6, 6, 0, 0.05 / 9) == 12     # 12/12 discordant: p = 2^-11 < 0.0056
    assert mcnemar_exact(6, 0) < 0.05 and cases_needed(6, 6, 0, 0.05) == 6
    assert cases_needed(10, 1, 1, 0.05) is None      # no direction: no n decides it


def test_improvement_is_reported_but_does_not_fail():
    base = grid_results("release", 0.5, SUITE)
    result = compare_results(base, flip(base, "camera", SUCCESS, 1.0))
    assert result.row("camera").verdict == IMPROVED and not result.regressed


def test_small_effect_below_minimum_is_not_a_regression():
    base = grid_results("release", 0.9, SUITE)
    cand = flip(base, "noise", FAILURE, 0.15)  # ~10 of 80 lost: significant, ~11 pp
    assert compare_results(base, cand, min_effect=0.05).row("noise").verdict == REGRESSED
    assert compare_results(base, cand, min_effect=0.20).row("noise").verdict == NO_CHANGE


def test_holm_adjustment():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_cli_exit_status_and_table(tmp_path, capsys):
    base = grid_results("release", 0.8, SUITE)
    b = write_results(base, tmp_path / "base.xml")
    bad = write_results(flip(base, "layout", FAILURE, 0.6), tmp_path / "bad.xml")
    same = write_results(grid_results("rerun", 0.8, SUITE), tmp_path / "same.xml")
    assert main(["compare", str(b), str(bad), "--markdown", str(tmp_path / "c.md")]) == 1
    out = capsys.readouterr().out
    assert "| Layout " in out and "regressed" in out and "Verdict: REGRESSED" in out
    assert (tmp_path / "c.md").read_text() == out
    assert main(["compare", str(b), str(same)]) == 0
    out = capsys.readouterr().out
    assert "Verdict: no regression" in out and "Protocols differ" not in out


def test_cli_says_when_the_two_runs_called_their_policies_differently(tmp_path, capsys):
    """Each episode's wam.replan_steps: a rerun that replanned every step is said to be one."""
    base = [dataclasses.replace(r, chunk_length=100, replan_steps=100)
            for r in grid_results("act", 0.8, SUITE)]
    every_step = [dataclasses.replace(r, policy="act-every-step", replan_steps=1) for r in base]
    b = write_results(base, tmp_path / "base.xml")
    assert main(["compare", str(b), str(write_results(every_step, tmp_path / "c.xml"))]) == 0
    assert ("Protocols differ: the baseline ran chunk_length 100 / replan_steps 100, the "
            "candidate chunk_length 100 / replan_steps 1; part of any difference is how often "
            "the policy was called.") in capsys.readouterr().out.splitlines()


def test_cli_an_inconclusive_drop_is_said_and_fails_only_under_the_fail_rule(tmp_path, capsys):
    """10 pairs, a 50-point drop: too few to judge after Holm; never "no regression"."""
    base = [r for r in grid_results("release", 1.0, SUITE) if r.key.setting == "camera"][:10]
    b = write_results(base, tmp_path / "base.xml")
    worse = write_results([dataclasses.replace(r, policy="candidate",
                                               status=FAILURE if i % 2 else r.status)
                           for i, r in enumerate(base)], tmp_path / "worse.xml")
    assert main(["compare", str(b), str(worse)]) == 0
    out = capsys.readouterr().out
    assert "Verdict: INCONCLUSIVE drops (" in out and "no regression" not in out
    assert "the inconclusive rule fail would fail it" in out
    assert main(["compare", str(b), str(worse), "--inconclusive=fail"]) == 1
    assert "the inconclusive rule is fail" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["compare", str(b), str(worse), "--inconclusive=maybe"])
    assert "the inconclusive rule is pass or fail" in capsys.readouterr().err


def test_candidate_shards_pair_with_a_merged_baseline(tmp_path):
    base = grid_results("release", 0.8, SUITE)
    cand = flip(base, "camera", FAILURE, 0.7)
    parts = [write_results(cand[i::2], tmp_path / f"c{i}.xml") for i in (0, 1)]
    b = write_results(base, tmp_path / "base.xml")
    assert main(["compare", str(b), *map(str, parts)]) == 1


def test_one_reader_picks_a_policys_results_for_compare_and_the_plugin(tmp_path):
    base = grid_results("release", 0.8, SUITE)
    both = write_results([*base, *grid_results("other", 0.5, SUITE)], tmp_path / "both.xml")
    chosen = results_of_one_policy([both], "release", "the baseline", "--baseline-policy")
    result = compare_results(chosen, flip(base, "language", FAILURE, 0.6), alpha=0.01)
    assert result.row("language").verdict == REGRESSED and result.alpha == 0.01
    with pytest.raises(UsageError, match=r"holds results of 2 policies \(other, release\); "
                                         r"choose one with --baseline-policy"):
        results_of_one_policy([both], None, "the baseline", "--baseline-policy")
    with pytest.raises(UsageError, match=r"has no results of policy 'nope'; it has: other"):
        results_of_one_policy([both], "nope", "the baseline", "--baseline-policy")


@pytest.mark.parametrize("make, message", [
    (lambda b: grid_results("c", 0.8, grid_suite(name="other")), "suites differ"),
    (lambda b: [dataclasses.replace(r, policy="c", key=dataclasses.replace(
        r.key, seed_index=r.key.seed_index + 99)) for r in b], "share no case"),
    (lambda b: b + flip(b, "x", SUCCESS, 0), "policies"),
    (lambda b: b + b[:1], "twice"),
])
def test_bad_pairings_are_one_clear_line(make, message):
    base = grid_results("release", 0.8, SUITE)
    with pytest.raises(UsageError, match=message) as info:
        compare_results(base, make(base))
    assert "\n" not in str(info.value)


def test_bad_options_and_files_via_cli(tmp_path, capsys):
    b = write_results(grid_results("release", 0.8, SUITE), tmp_path / "base.xml")
    with pytest.raises(SystemExit):
        main(["compare", str(b), str(b), "--alpha", "2"])
    assert "alpha must be in (0, 1)" in capsys.readouterr().err
    junk = tmp_path / "junk.xml"
    junk.write_text("<coverage/>")
    assert main(["compare", str(b), str(junk)]) == 2
    assert "is not a JUnit report" in capsys.readouterr().err
    assert main(["compare", str(b), str(b), "--candidate-policy", "nope"]) == 2
    assert "no results of policy 'nope'" in capsys.readouterr().err


def test_real_runs_oracle_vs_random(capsys):
    """Real tabletop runs: the random policy as a candidate for the oracle's release."""
    code = main(["compare", str(FIXTURES / "tabletop_scripted.xml"),
                 str(FIXTURES / "tabletop_random.xml")])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"^\| Total +\| 168 +\| 100\.0 +\| 0\.0 +\| -100\.0 +\| 168/0 .*regressed",
                     out, re.MULTILINE)
    assert main(["compare", str(FIXTURES / "tabletop_random.xml"),
                 str(FIXTURES / "tabletop_scripted.xml")]) == 0
    assert "improved" in capsys.readouterr().out
