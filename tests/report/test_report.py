"""`wamrobust report`: JUnit files in (shards, policies), the study's tables out."""

from __future__ import annotations

import base64
import re

import pytest
from report_data import FIXTURES, grid_results, grid_suite

from pytest_wamrobust.cli import main
from pytest_wamrobust.cli.report import build_tables
from pytest_wamrobust.core.cases.sharding import Shard, shard_cases
from pytest_wamrobust.core.judging.gates import OVERALL
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.records.junit import read_results, write_results
from pytest_wamrobust.report.aggregate import success_table
from pytest_wamrobust.report.tables import to_markdown


def report(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["report", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_round_trip_through_junit_keeps_every_property(tmp_path):
    results = grid_results("pi05")
    back = read_results([write_results(results, tmp_path / "r.xml")])
    assert [r.to_properties() for r in back] == [r.to_properties() for r in results]


def test_files_from_0_1_0_with_wam_axis_still_read(tmp_path, capsys):
    """0.1.0 named the setting `wam.axis`; CI artifacts kept from it stay comparable."""
    results = grid_results("pi05", {"camera": 0.3, "*": 0.8})
    today = write_results(results, tmp_path / "today.xml")
    legacy = tmp_path / "legacy.xml"
    legacy.write_text(today.read_text().replace('name="wam.setting"', 'name="wam.axis"'))
    assert 'name="wam.axis"' in legacy.read_text()
    assert read_results([legacy]) == read_results([today])
    assert report(capsys, legacy)[1] == report(capsys, today)[1]


def test_merged_shards_give_the_same_table_as_one_run(tmp_path, capsys):
    results = grid_results("pi05", {"camera": 0.3, "*": 0.8})
    whole = write_results(results, tmp_path / "whole.xml")
    by_key = {r.key: r for r in results}
    shards = [write_results([by_key[k] for k in shard_cases(by_key, Shard(i, 3))],
                            tmp_path / f"shard{i}.xml") for i in (1, 2, 3)]
    _, one_run, _ = report(capsys, whole)
    code, merged, _ = report(capsys, *shards)
    assert code == 0 and merged == one_run


def test_table_counts_match_the_results(tmp_path, capsys):
    results = grid_results("pi05", {"noise": 0.0, "*": 1.0})
    code, out, _ = report(capsys, write_results(results, tmp_path / "r.xml"))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("| pi05 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # Policy, Clean, Camera, Robot, Language, Light, Background, Noise, Layout, Total, n
    assert cells[7] == "0.0" and cells[1] == "100.0"
    # Total is over the 84 perturbed episodes (clean excluded); n counts all 96
    assert cells[9] == f"{100 * 72 / 84:.1f}" and cells[10] == "96"
    assert "| Noise " in out and "95% CI (Wilson)" in out


def test_several_policies_side_by_side_with_breakdown(tmp_path, capsys):
    a = write_results(grid_results("pi05", salt="x"), tmp_path / "a.xml")
    b = write_results(grid_results("wam", salt="y"), tmp_path / "b.xml")
    code, out, _ = report(capsys, a, b, "--by", "task")
    assert code == 0
    assert re.search(r"^\| pi05 ", out, re.MULTILINE) and re.search(r"^\| wam ", out, re.MULTILINE)
    assert "wam: success per setting and task" in out and "| task1 " in out


def test_html_is_self_contained_with_a_real_png(tmp_path, capsys):
    xml = write_results(grid_results("pi05"), tmp_path / "r.xml")
    html, png, md = tmp_path / "out" / "r.html", tmp_path / "h.png", tmp_path / "r.md"
    code, out, _ = report(capsys, xml, "--html", html, "--png", png, "--markdown", md)
    assert code == 0 and out == ""
    page = html.read_text()
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(embedded) == png.read_bytes()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(png.read_bytes()) > 5000
    assert "<script" not in page and "http" not in page.split("<body>")[1]
    assert "Success rate (%) per setting" in md.read_text()


def test_merged_xml_is_a_readable_junit_file(tmp_path, capsys):
    results = grid_results("pi05")
    parts = [write_results(results[:40], tmp_path / "1.xml"),
             write_results(results[40:], tmp_path / "2.xml")]
    merged = tmp_path / "merged.xml"
    assert report(capsys, *parts, "--merged-xml", merged)[0] == 0
    assert len(read_results([merged])) == len(results)


def test_benchmark_json_folds_into_latency_table(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(
        '{"benchmarks": [{"name": "test_latency[scripted]", "params": {"policy_name": "scripted"},'
        ' "stats": {"median": 0.0123, "mean": 0.0131, "rounds": 20},'
        ' "extra_info": {"p95_ms": 19.5}}]}')
    xml = write_results(grid_results("scripted"), tmp_path / "r.xml")
    code, out, _ = report(capsys, xml, "--benchmark-json", bench)
    assert code == 0
    row = next(line for line in out.splitlines() if "pytest-benchmark" in line)
    assert "| scripted " in row and "| 12.3 " in row and "| 20 " in row and "| 19.5 " in row
    assert re.search(r"^\| scripted +\| episodes ", out, re.MULTILINE)


def test_latency_percentiles_pool_every_chunk():
    results = grid_results("pi05")
    table = to_markdown(build_tables(results)[-1])
    import numpy as np
    pooled = np.concatenate([r.chunk_latencies_ms for r in results])
    assert f"| {pooled.size} " in table
    assert f"| {np.percentile(pooled, 95):.1f} " in table


def test_errors_count_as_failures_and_are_shown():
    results = grid_results("pi05", 1.0)
    results[0].status, results[0].error = "error", "policy raised"
    results[0].error_kind = "policy_error"
    table = success_table(results)
    clean = table.cell("pi05", results[0].key.setting)
    assert clean.errors == 1 and clean.successes == clean.n - 1
    assert table.cell("pi05", OVERALL).n == sum(r.key.setting != "clean" for r in results)


@pytest.mark.parametrize("content, message", [
    ("not xml at all", "is not XML"),
    ("<html><body/></html>", "is not a JUnit report"),
    ('<testsuites><testsuite name="pytest"><testcase name="t"/></testsuite></testsuites>',
     "has no wamrobust results"),
    (('<testsuite><testcase name="t"><properties><property name="wam.suite" value="s"/>'
      '<property name="wam.status" value="success"/><property name="wam.axis" value="clean"/>'
      "</properties></testcase></testsuite>"), "malformed wam.* properties"),
])
def test_bad_files_are_one_clear_line(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.xml"
    bad.write_text(content)
    code, out, err = report(capsys, bad)
    assert code == 2 and out == ""
    assert message in err and str(bad) in err and err.count("\n") == 1


def test_missing_file_and_duplicate_shard(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_results([tmp_path / "nope.xml"])
    xml = write_results(grid_results("pi05"), tmp_path / "r.xml")
    with pytest.raises(UsageError, match="appears in both"):
        read_results([xml, xml])


def test_reads_pytest_junit_with_foreign_tests_mixed_in(tmp_path):
    """A real pytest file also has plain tests, skips and nested suites: only episodes count."""
    suite = grid_suite()
    results = grid_results("pi05", suite=suite)
    xml = write_results(results, tmp_path / "r.xml").read_text()
    xml = xml.replace("</testsuite>", '<testcase classname="tests.test_misc" name="test_ok"/>'
                      '<testcase name="test_skip"><skipped message="x"/></testcase></testsuite>')
    (tmp_path / "mixed.xml").write_text(xml)
    assert len(read_results([tmp_path / "mixed.xml"])) == len(results)


def test_report_of_real_tabletop_runs(capsys):
    """Golden files of real runs (fixtures/junit/make_golden.py): the oracle solves every
    case, the random policy none, and the two sit side by side."""
    code, out, _ = report(capsys, FIXTURES / "tabletop_scripted.xml",
                          FIXTURES / "tabletop_random.xml", "--by", "level")
    assert code == 0
    assert re.search(r"^\| scripted +\| 100\.0 .*\| 100\.0 +\| 192 +\|$", out, re.MULTILINE)
    assert re.search(r"^\| random +\| 0\.0 .*\| 0\.0 +\| 192 +\|$", out, re.MULTILINE)
    assert re.search(r"^\| Camera +\| L5 +\| 8 +\| 8 +\| 100\.0 ", out, re.MULTILINE)
    latency = [line for line in out.splitlines() if "| episodes |" in line]
    assert len(latency) == 2 and all(float(line.split("|")[4]) > 0 for line in latency)


def test_thresholds_gate_the_merged_results(tmp_path, capsys):
    gates_file = tmp_path / "gates.toml"
    gates_file.write_text("[thresholds]\nclean = 0.9\noverall = 0.8\n")
    code, out, err = report(capsys, FIXTURES / "tabletop_scripted.xml", "--thresholds", gates_file)
    assert code == 0, err
    assert re.search(r"\| scripted \| overall \| success 100\.0% >= 80\.0% \(168/168\) *\| held",
                     out)
    code, out, err = report(capsys, FIXTURES / "tabletop_random.xml", "--thresholds", gates_file)
    assert code == 1
    assert re.search(r"\| random +\| clean +\| success 0\.0% < 90\.0% \(0/24\) *\| FAILED", out)
    assert "a gate failed" in err
    gates_file.write_text("[thresholds]\ncamra = 0.5\n")
    code, _, err = report(capsys, FIXTURES / "tabletop_random.xml", "--thresholds", gates_file)
    assert code == 2 and "unknown threshold 'camra'" in err


def test_report_and_compare_need_no_pytest_torch_or_simulator(tmp_path):
    """The gate job of the CI workflow installs only the report tools."""
    import subprocess
    import sys

    blocked = ("pytest", "hypothesis", "torch", "mujoco", "sapien", "xdist")
    script = (f"import sys; sys.modules.update(dict.fromkeys({blocked!r}))\n"
              "from pytest_wamrobust.cli import main\n"
              f"sys.exit(main(['report', {str(FIXTURES / 'tabletop_random.xml')!r}])"
              f" or main(['compare', {str(FIXTURES / 'tabletop_random.xml')!r},"
              f" {str(FIXTURES / 'tabletop_random.xml')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| random " in done.stdout and "no regression" in done.stdout
