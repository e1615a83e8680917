"""Thresholds parsing (one clear line per mistake), layering, the table and the verdicts."""

from __future__ import annotations

import math

import pytest

from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.judging.gates import Thresholds, ThresholdsError
from pytest_wamrobust.core.model.results import ERROR, FAILURE, SUCCESS, EpisodeResult
from pytest_wamrobust.core.model.types import CaseKey


def result(axis: str, status: str, seed: int = 0, latencies=(10.0,)) -> EpisodeResult:
    level = 0 if axis == "clean" else 1
    return EpisodeResult(CaseKey("s", "t", axis, level, seed), status, steps=5,
                         chunk_latencies_ms=list(latencies))


@pytest.mark.parametrize("table, message", [
    ({"camra": 0.5}, "unknown threshold 'camra'; keys are clean, camera"),
    ({"clean": 1.5}, "clean = 1.5 must be a success rate in [0, 1]"),
    ({"clean": -0.1}, "must be a success rate in [0, 1]"),
    ({"camera": "high"}, "camera = 'high' is not a number"),
    ({"clean": True}, "must be a success rate"),
    ({"judge": "median"}, "judge = 'median'; use one of point, wilson_lower"),
    ({"max_chunk_latency_ms": 0}, "must be a positive number of ms"),
    ({"max_chunk_latency_ms": "fast"}, "is not a number of milliseconds"),
    ({"on_inconclusive": "maybe"}, "on_inconclusive = 'maybe'; use \"pass\" or \"fail\""),
])
def test_each_mistake_is_one_line_naming_the_key(table, message):
    with pytest.raises(ThresholdsError) as info:
        gates.parse_thresholds(table, "gates.toml")
    text = str(info.value)
    assert message in text and text.startswith("gates.toml") and "\n" not in text


def test_percent_strings_and_every_axis_are_accepted():
    t = gates.parse_thresholds({"clean": "90%", "noise": 0.25, "overall": 0.5,
                                "max_chunk_latency_ms": 80, "judge": "wilson_lower"}, "x")
    assert t.rates == {"clean": 0.9, "noise": 0.25, "overall": 0.5}
    assert (t.max_chunk_latency_ms, t.judged_by, t.configured) == (80.0, "wilson_lower", True)
    assert not Thresholds().configured and Thresholds().judged_by == "point"


def test_file_overrides_pyproject_overrides_manifest_key_by_key(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.wamrobust.thresholds]\ncamera = 0.6\njudge = 'wilson_lower'\n")
    gate_file = tmp_path / "gates.toml"
    gate_file.write_text("camera = 0.7\nmax_chunk_latency_ms = 50\n")
    t = gates.resolve_thresholds({"clean": 0.9, "camera": 0.5}, "suites/x.toml",
                                 tmp_path, gate_file)
    assert t.rates == {"clean": 0.9, "camera": 0.7}
    assert t.max_chunk_latency_ms == 50 and t.judged_by == "wilson_lower"
    assert len(t.sources) == 3


def test_a_file_may_nest_the_keys_like_pyproject(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.wamrobust.thresholds]\nclean = 0.5\n")
    assert gates.load_thresholds_file(path).rates == {"clean": 0.5}
    path.write_text("[thresholds]\nlight = 0.5\n")
    assert gates.load_thresholds_file(path).rates == {"light": 0.5}


def test_unreadable_or_invalid_files_are_one_line(tmp_path):
    with pytest.raises(ThresholdsError, match="cannot read thresholds file .*missing.toml"):
        gates.load_thresholds_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("clean = = 0.5\n")
    with pytest.raises(ThresholdsError, match="is not valid TOML"):
        gates.load_thresholds_file(bad)


def test_rows_clean_first_then_axes_then_overall_with_errors_counted_as_failures():
    results = [result("layout", SUCCESS), result("clean", SUCCESS), result("clean", ERROR, 1),
               result("camera", FAILURE), result("camera", SUCCESS, 1), result("layout", ERROR, 1)]
    rows = gates.table_rows(results)
    assert [r.setting for r in rows] == ["clean", "camera", "layout", "overall"]
    clean, _, layout, overall = rows
    assert (clean.n, clean.successes, clean.errors, clean.rate) == (2, 1, 1, 0.5)
    assert (layout.n, layout.successes, layout.errors) == (2, 1, 1)
    assert (overall.n, overall.successes, overall.errors) == (4, 2, 1)  # clean excluded


def test_verdicts_point_and_wilson_lower():
    results = [result("clean", SUCCESS, i) for i in range(9)] + [result("clean", FAILURE, 9)]
    rows = gates.table_rows(results)
    point = gates.evaluate(gates.parse_thresholds({"clean": 0.85}, "x"), rows, 10.0)
    assert [(v.name, v.passed) for v in point] == [("clean", True)]
    assert point[0].observed == 0.9
    lower = gates.evaluate(gates.parse_thresholds({"clean": 0.85, "judge": "wilson_lower"}, "x"),
                           rows, 10.0)
    assert lower[0].passed is False and lower[0].observed == pytest.approx(0.5958, abs=1e-3)


def test_gate_of_a_setting_that_did_not_run_is_not_judged():
    rows = gates.table_rows([result("clean", SUCCESS)])
    verdicts = gates.evaluate(gates.parse_thresholds({"camera": 0.5}, "x"), rows, float("nan"))
    assert verdicts[0].passed is None and math.isnan(verdicts[0].observed)


def test_latency_gate_uses_p95_over_every_chunk():
    results = [result("clean", SUCCESS, i, latencies=[10.0] * 19 + [100.0]) for i in range(5)]
    p95 = gates.chunk_latency(results, "p95")
    assert p95 == pytest.approx(14.5)
    t = gates.parse_thresholds({"max_chunk_latency_ms": 15}, "x")
    assert t.latency_statistic == "p95"
    assert gates.evaluate(t, gates.table_rows(results), p95)[0].passed is True
    t = gates.parse_thresholds({"max_chunk_latency_ms": 14}, "x")
    assert gates.evaluate(t, gates.table_rows(results), p95)[0].passed is False


def test_a_stall_once_per_episode_passes_p95_but_fails_p99_and_max():
    """One 2 s stall in 50 chunks of 20 ms: invisible at p95, the point of p99 / max."""
    results = [result("clean", SUCCESS, i, latencies=[20.0] * 49 + [2000.0]) for i in range(4)]
    verdicts = {}
    for stat in ("p95", "p99", "max"):
        t = gates.parse_thresholds({"max_chunk_latency_ms": 100, "latency_stat": stat}, "x")
        (verdicts[stat],) = gates.evaluate(t, gates.table_rows(results),
                                           gates.chunk_latency(results, t.latency_statistic))
    assert verdicts["p95"].passed is True
    assert verdicts["p99"].passed is False and verdicts["p99"].detail.startswith("p99 ")
    assert verdicts["max"].passed is False and verdicts["max"].observed == 2000.0


def test_latency_stat_must_be_one_of_the_three():
    with pytest.raises(ThresholdsError, match=r"latency_stat = 'p90'; use one of p95, p99, max"):
        gates.parse_thresholds({"latency_stat": "p90"}, "gates.toml")


def test_gates_written_directly_under_tool_wamrobust_are_one_line_not_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.wamrobust]\nclean = 0.9\n")
    with pytest.raises(ThresholdsError, match=r"\[tool.wamrobust\]: unknown key 'clean'; gates "
                                              r"go under \[tool.wamrobust.thresholds\]"):
        gates.resolve_thresholds({}, "suites/x.toml", tmp_path, None)


def test_a_point_gate_on_too_few_episodes_to_tell_says_so():
    """2 of 3 at a 0.5 gate holds by the point estimate, but the 95% interval
    (20.8%-93.9%) holds 0.5: the verdict carries it; 90 of 100 clears it."""
    thresholds = gates.parse_thresholds({"camera": 0.5}, "g.toml")
    few = [result("camera", SUCCESS, 0), result("camera", SUCCESS, 1), result("camera", FAILURE, 2)]
    (verdict,) = gates.evaluate(thresholds, gates.table_rows(few), float("nan"))
    assert verdict.passed and verdict.unresolved == "n=3, 95% interval [20.8%, 93.9%]"
    many = [result("camera", SUCCESS if seed < 90 else FAILURE, seed) for seed in range(100)]
    (verdict,) = gates.evaluate(thresholds, gates.table_rows(many), float("nan"))
    assert verdict.passed and verdict.unresolved == ""
    lower = gates.parse_thresholds({"camera": 0.5, "judge": "wilson_lower"}, "g.toml")
    (verdict,) = gates.evaluate(lower, gates.table_rows(few), float("nan"))
    assert verdict.passed is False and verdict.unresolved == ""  # the judge already accounts
