"""Dashboards: `wamrobust report --history` (successive runs, one row each, the drops the
paired comparison judges significant marked, a trend chart per setting) and the heatmap
`--by task` / `--by level` draws per policy."""

from __future__ import annotations

import io
import re

import pytest
from report_data import FIXTURES, grid_results, grid_suite

from pytest_wamrobust.cli import main
from pytest_wamrobust.cli.report import labelled
from pytest_wamrobust.records.junit import read_results, write_results
from pytest_wamrobust.report.aggregate import success_table
from pytest_wamrobust.report.heatmap import breakdown_figure
from pytest_wamrobust.report.history import DROP_MARK, GAIN_MARK, HistoryRun, history
from pytest_wamrobust.report.tables import title
from pytest_wamrobust.report.trend import HEADING, trend_figure

plt = pytest.importorskip("matplotlib.pyplot", reason="the figures need the reports extra")

SCRIPTED = FIXTURES / "tabletop_scripted.xml"
RANDOM = FIXTURES / "tabletop_random.xml"


def report(capsys, *argv: object) -> tuple[int, str, str]:
    code = main(["report", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def history_rows(markdown: str) -> dict[str, list[str]]:
    """The history table's rows by run name, the run's cell dropped."""
    table = markdown.split("### History")[1].split("\n\n")[1]
    lines = table.splitlines()
    headers = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: dict(zip(headers, row, strict=True)) for row in rows}


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Three releases of one policy on 24 cases per setting: 1.1 drifts from 1.0 by the
    odd case (noise), 1.2 loses the camera axis."""
    suite = grid_suite(tasks=4)
    folder = tmp_path_factory.mktemp("releases")
    rates = {"1.0": {"camera": 0.8, "*": 0.8}, "1.1": {"camera": 0.79, "*": 0.8},
             "1.2": {"camera": 0.05, "*": 0.8}}
    return {name: write_results(grid_results("pi05", r, suite, salt="same"),
                                folder / f"release-{name}.xml")
            for name, r in rates.items()}


def test_a_significant_drop_is_marked_and_a_noise_level_change_is_not(releases, tmp_path,
                                                                       capsys):
    code, out, _ = report(capsys, "--history", *(f"--label=v{n}={p}" for n, p in
                                                    releases.items()))
    assert code == 0
    rows = history_rows(out)
    assert list(rows) == ["v1.0", "v1.1", "v1.2"]  # no start time recorded: as given
    rate = {name: read_results([path]) for name, path in releases.items()}
    camera = {name: sum(r.success for r in rs if r.key.setting == "camera") / 24
              for name, rs in rate.items()}
    assert 0 < camera["1.0"] - camera["1.1"] < 0.1  # the odd case: noise
    assert rows["v1.1"]["Camera"] == f"{100 * camera['1.1']:.1f}"  # unmarked
    assert rows["v1.1"]["vs previous run"] == "no significant change"
    assert rows["v1.2"]["Camera"] == f"{100 * camera['1.2']:.1f} {DROP_MARK}"
    assert rows["v1.2"]["vs previous run"] == "regressed (Camera, Total)"
    assert rows["v1.2"]["Total"].endswith(DROP_MARK) and rows["v1.2"]["Light"] == \
        rows["v1.1"]["Light"]
    assert rows["v1.0"]["vs previous run"] == "-" and rows["v1.0"]["Started"] == "-"
    assert all(DROP_MARK not in cell and GAIN_MARK not in cell
               for name in ("v1.0", "v1.1") for cell in rows[name].values())
    assert [rows[n]["n"] for n in rows] == [str(len(rate[n])) for n in releases]
    # the mark is wamrobust compare's verdict on the same two files
    assert main(["compare", str(releases["1.1"]), str(releases["1.2"])]) == 1
    assert main(["compare", str(releases["1.0"]), str(releases["1.1"])]) == 0
    capsys.readouterr()


def test_real_runs_are_ordered_by_the_start_time_their_files_record(capsys):
    """The golden runs (pytest's own files): random started a minute after scripted, so
    it comes second however they are given; a run equal to the one before is no change."""
    code, out, _ = report(capsys, "--history", RANDOM, SCRIPTED, f"--label=again={SCRIPTED}")
    assert code == 0
    rows = history_rows(out)
    assert list(rows) == ["tabletop_scripted", "again", "tabletop_random"]
    assert rows["tabletop_scripted"]["Started"] == "2026-12-01 08:39:18 UTC"
    assert rows["again"]["vs previous run"] == "no significant change"
    assert rows["again"]["Total"] == "100.0"
    assert rows["tabletop_random"]["Total"] == f"0.0 {DROP_MARK}"
    assert rows["tabletop_random"]["Camera"] == f"0.0 {DROP_MARK}"
    assert rows["tabletop_random"]["vs previous run"].startswith("regressed (Clean, Camera,")


def test_the_trend_chart_has_a_panel_per_setting_with_bands_and_the_drop_marked(releases):
    runs = [HistoryRun(name, "", tuple(labelled(read_results([path]), name)))
            for name, path in releases.items()]
    h = history(runs)
    fig = trend_figure(h)
    try:
        panels = {ax.get_title(): ax for ax in fig.axes}
        assert list(panels) == [title(s) for s in h.table.settings]
        assert list(panels)[:2] == ["Clean", "Camera"] and list(panels)[-1] == "Total"
        assert fig._suptitle.get_text() == HEADING
        for name, ax in panels.items():
            band, *marks = ax.collections
            low, high = band.get_paths()[0].get_extents().intervaly
            cells = [h.table.cell(run.name, s) for run in runs for s in h.table.settings
                     if title(s) == name]
            assert low == pytest.approx(100 * min(c.ci[0] for c in cells))
            assert high == pytest.approx(100 * max(c.ci[1] for c in cells))
            marked = [tuple(x for x, _ in m.get_offsets()) for m in marks]
            assert marked == ([(2,), ()] if name in ("Camera", "Total") else [(), ()])
    finally:
        plt.close(fig)


def test_history_png_and_html_show_the_trend(releases, tmp_path, capsys):
    png, html = tmp_path / "trend.png", tmp_path / "r.html"
    code, _, err = report(capsys, "--history", *releases.values(), "--png", png, "--html", html)
    assert code == 0 and f"wrote {png}" in err
    image = plt.imread(io.BytesIO(png.read_bytes()), format="png")
    assert image.shape[0] > 600 and image.shape[1] > 600  # nine panels above the heatmap
    page = html.read_text()
    assert page.index('alt="success trend per setting"') < page.index('alt="success heatmap"')
    assert "History: success rate (%) per setting, run by run" in page
    assert "release-1.2" in page and DROP_MARK in page


def test_a_run_of_several_policies_is_refused_in_one_line(tmp_path, capsys):
    both = write_results([*grid_results("a"), *grid_results("b")], tmp_path / "both.xml")
    code, _, err = report(capsys, "--history", SCRIPTED, both)
    assert code == 2
    assert err.strip().splitlines() == [
        "wamrobust report: error: --history: run 'both' holds results of 2 policies (a, b); a "
        "history follows one policy, give the files of its runs"]


@pytest.mark.parametrize("by", ["task", "level"])
def test_each_policy_gets_a_heatmap_whose_cells_are_its_breakdown_rates(by, tmp_path, capsys):
    results = [*grid_results("pi05", {"camera": 0.3, "light": 0.9, "*": 0.6}, salt="x"),
               *grid_results("wam", {"camera": 0.7, "*": 0.5}, salt="y")]
    table = success_table(results, by)
    for policy in ("pi05", "wam"):
        fig = breakdown_figure(table, policy)
        try:
            [ax] = [a for a in fig.axes if a.get_title()]
            cells = ax.images[0].get_array()
            rows = [t.get_text() for t in ax.get_yticklabels()]
            columns = [t.get_text() for t in ax.get_xticklabels()]
        finally:
            plt.close(fig)
        if by == "task":
            assert ax.get_title() == f"{policy}: success per task and setting"
            assert rows == ["task0", "task1"] and columns == [title(s) for s in table.settings]
            expected = [[table.cell(policy, s, g) for s in table.settings] for g in table.groups]
        else:
            assert ax.get_title() == f"{policy}: success per setting and level"
            assert rows == [title(s) for s in table.settings] and columns == ["L0", "L1", "L3",
                                                                              "L5"]
            expected = [[table.cell(policy, s, g) for g in table.groups] for s in table.settings]
        for i, line in enumerate(expected):
            for j, cell in enumerate(line):
                if cell is None:
                    assert cells.mask[i, j]
                else:
                    assert cells[i, j] == pytest.approx(100 * cell.rate)

    xml = write_results(results, tmp_path / "r.xml")
    png, html = tmp_path / "h.png", tmp_path / "r.html"
    assert report(capsys, xml, "--by", by, "--png", png, "--html", html)[0] == 0
    page = html.read_text()
    assert re.findall(r'<img alt="([^"]+)"', page) == [
        f"pi05: success per {by} heatmap", f"wam: success per {by} heatmap", "success heatmap"]
    alone = tmp_path / "alone.png"
    assert report(capsys, xml, "--png", alone)[0] == 0
    stacked = plt.imread(io.BytesIO(png.read_bytes()), format="png")
    assert stacked.shape[0] > plt.imread(io.BytesIO(alone.read_bytes()), format="png").shape[0]
