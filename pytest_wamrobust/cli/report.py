"""`wamrobust report RESULTS...`: merge JUnit files (shards, runs, policies) into the
study's tables, as Markdown on stdout or in a file, and as an HTML page with a heatmap.
With `--thresholds`, the merged results are gated: each shard of a CI run sees only
part of the matrix, so the gates are judged here, once, on all of it."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from pytest_wamrobust import versions_text
from pytest_wamrobust.cli.arguments import argument_type
from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import VERSIONS
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.search.breaking_point import SearchResult
from pytest_wamrobust.report.aggregate import (
    BREAKDOWNS,
    LatencyRow,
    SuccessTable,
    latency_rows,
    success_table,
)
from pytest_wamrobust.report.history import History, HistoryRun, history, history_table
from pytest_wamrobust.report.tables import (
    Table,
    breaking_point_table,
    detail_table,
    latency_table,
    summary_table,
    to_markdown,
)


def add_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("results", nargs="*", metavar="RESULTS",
                     help="JUnit XML files written by pytest --junitxml (any number of "
                          "shards, runs or policies); files of one policy are shards of "
                          "one run, merged")
    sub.add_argument("--label", dest="labels", action="append", default=[],
                     type=argument_type(parse_label), metavar="NAME=FILE",
                     help="a run's JUnit file, tabled as its own row named NAME instead of "
                          "by its policy: two runs of one policy side by side (repeatable; "
                          "one NAME on several files merges them as shards)")
    sub.add_argument("--by", choices=BREAKDOWNS,
                     help="also break each policy's table down by task or by level, "
                          "drawn as a heatmap per policy in --png and --html")
    sub.add_argument("--history", action="store_true",
                     help="the files are successive runs of one policy: each RESULTS file "
                          "a run named by its file name, each --label a run (its files "
                          "merged as shards); adds a table with a row per run, marks where "
                          "the paired comparison with the run before (as wamrobust compare) "
                          "judges a drop significant, and a trend chart per setting; ordered "
                          "by the start time the files record, else as given")
    sub.add_argument("--benchmark-json", action="append", default=[], metavar="FILE",
                     help="pytest-benchmark --benchmark-json output to fold into the "
                          "latency table (repeatable)")
    sub.add_argument("--markdown", metavar="FILE", help="write Markdown here (default: stdout)")
    sub.add_argument("--html", metavar="FILE", help="write a self-contained HTML page here")
    sub.add_argument("--png", metavar="FILE",
                     help="write the figures here as one PNG: the trend (--history), the "
                          "heatmaps per policy (--by), the success heatmap")
    sub.add_argument("--merged-xml", metavar="FILE",
                     help="write all results as one JUnit file (e.g. the next baseline)")
    sub.add_argument("--title", default="Robustness report", help="page and document title")
    sub.add_argument("--thresholds", metavar="FILE",
                     help="gates TOML (as for pytest --wam-thresholds): judge every policy's "
                          "merged results; exit status 1 if a gate fails")


def build_tables(results: Sequence[EpisodeResult], by: str | None = None,
                 benchmarks: Sequence[LatencyRow] = (),
                 table: SuccessTable | None = None) -> list[Table]:
    """Summary, one detail table per policy, then latency - the report's body."""
    table = table or success_table(results, by)
    return [summary_table(table),
            *(detail_table(table, p) for p in table.policies),
            latency_table([*latency_rows(results), *benchmarks])]


def parse_label(text: str) -> tuple[str, str]:
    """`--label NAME=FILE`."""
    name, _, path = text.partition("=")
    if not name.strip() or not path.strip():
        raise UsageError(f"--label takes NAME=FILE, got {text!r}")
    return name.strip(), path.strip()


Run = TypeVar("Run", EpisodeResult, SearchResult)


def labelled(runs: Sequence[Run], label: str) -> list[Run]:
    """A labelled run's results under its label: the row the report gives it. A file
    holding several policies keeps them apart as `label (policy)`."""
    several = len({r.policy for r in runs}) > 1
    return [dataclasses.replace(r, policy=f"{label} ({r.policy})" if several else label)
            for r in runs]


def read_runs(args: argparse.Namespace) -> tuple[list[EpisodeResult], list[SearchResult]]:
    """The episodes and searches of RESULTS (shards of a policy merged) and of each
    --label (its files merged, renamed to the label)."""
    from pytest_wamrobust.records.junit import read_results, read_searches

    by_label: dict[str, list[str]] = {}
    for name, path in args.labels:
        by_label.setdefault(name, []).append(path)
    twice = sorted(set(args.results) & {path for _, path in args.labels})
    if twice:
        raise UsageError(f"{twice[0]} is given both as RESULTS and with --label; give it once")
    if not args.results and not by_label:
        raise UsageError("no JUnit files given; pass the files written by pytest --junitxml "
                         "(or --label NAME=FILE)")
    results = read_results(args.results) if args.results else []
    searches = read_searches(args.results)
    policies = {r.policy for r in results} | {r.policy for r in searches}
    for name, paths in by_label.items():
        if name in policies:
            raise UsageError(f"--label {name}=... names a row the same as a policy of "
                             f"RESULTS; choose another label")
        results += labelled(read_results(paths), name)
        searches += labelled(read_searches(paths), name)
    return results, searches


def history_runs(args: argparse.Namespace) -> list[HistoryRun]:
    """--history: each RESULTS file one run named by its file name (its path where two
    share a name), each --label one run; by when each started if every file says so."""
    from pytest_wamrobust.records.junit import read_results

    stems = [Path(path).stem for path in args.results]
    files: dict[str, list[str]] = {}
    for name, path in [*((stem if stems.count(stem) == 1 else path, path)
                         for stem, path in zip(stems, args.results, strict=True)),
                       *args.labels]:
        files.setdefault(name, []).append(path)
    if not files:
        raise UsageError("--history needs the JUnit files of the runs, oldest first "
                         "(RESULTS or --label NAME=FILE)")
    runs, started = [], {}
    for name, paths in files.items():
        results = read_results(paths)
        policies = sorted({r.policy for r in results})
        if len(policies) > 1:
            raise UsageError(f"--history: run {name!r} holds results of {len(policies)} policies "
                             f"({', '.join(policies)}); a history follows one policy, give "
                             f"the files of its runs")
        started[name] = min((run_header(path)[0] for path in paths), default="")
        runs.append(HistoryRun(name, _readable(started[name]) if started[name] else "",
                               tuple(labelled(results, name))))
    if all(started.values()):
        runs.sort(key=lambda run: started[run.name])
    return runs


def report_figures(table: SuccessTable, past: History | None) -> list[tuple[str, bytes]]:
    """(alt text, PNG) of the trend (--history) and each policy's breakdown (--by)."""
    from pytest_wamrobust.report.heatmap import breakdown_figure, figure_png
    from pytest_wamrobust.report.trend import trend_figure

    figures = [("success trend per setting", figure_png(trend_figure(past)))] if past else []
    if table.by:
        figures += [(f"{policy}: success per {table.by} heatmap",
                     figure_png(breakdown_figure(table, policy))) for policy in table.policies]
    return figures


def gate_table(results: Sequence[EpisodeResult],
               thresholds: gates.Thresholds) -> tuple[Table, bool]:
    """One row per (policy, gate): observed, threshold, verdict; and whether any failed."""
    rows, failed = [], False
    for policy in sorted({r.policy for r in results}):
        mine = [r for r in results if r.policy == policy]
        for v in gates.evaluate(thresholds, gates.table_rows(mine),
                                    gates.chunk_latency(mine, thresholds.latency_statistic)):
            verdict = "not judged" if v.passed is None else ("held" if v.passed else "FAILED")
            failed = failed or v.passed is False
            rows.append((policy, v.name, v.detail, verdict))
    table = Table(f"Gates ({thresholds.judged_by})", ("Policy", "Gate", "Measured", "Verdict"),
                  tuple(rows), "; ".join(thresholds.sources))
    return table, failed


def run(args: argparse.Namespace) -> int:
    from pytest_wamrobust.records.junit import write_results
    from pytest_wamrobust.report.benchmark import read_benchmark_json

    thresholds = gates.load_thresholds_file(args.thresholds) if args.thresholds else None
    runs = history_runs(args) if args.history else None
    results, searches = ([r for run in runs for r in run.results], []) if runs else read_runs(args)
    past = history(runs) if runs else None
    files = [*args.results, *(path for _, path in args.labels)]
    benchmarks = [row for f in args.benchmark_json for row in read_benchmark_json(f)]
    table = success_table(results, args.by)
    tables = build_tables(results, args.by, benchmarks, table) if results else []
    if past:
        tables.insert(0, history_table(past))
    if searches:
        tables.append(breaking_point_table(searches))
    gate_failed = False
    if thresholds is not None:
        gates_table, gate_failed = gate_table(results, thresholds)
        tables.append(gates_table)
    markdown = f"## {args.title}\n\n" + "\n".join(to_markdown(t) for t in tables)
    policies = len({r.policy for r in results})
    what = (f"{len(results)} case{'s' * (len(results) != 1)}, "
            f"{policies} polic{'ies' if policies != 1 else 'y'}"
            + (f", {len(searches)} search{'es' * (len(searches) != 1)}" if searches else ""))
    written = []
    if args.markdown:
        written.append(_write(args.markdown, markdown))
    else:
        print(markdown, end="")
    if args.html or args.png:
        from pytest_wamrobust.report.heatmap import breaking_png, heatmap_png, stack_pngs
        from pytest_wamrobust.report.html import page

        png = heatmap_png(table) if results else None  # its cells without a breakdown group
        broken = breaking_png(searches) if searches else None
        figures = report_figures(table, past)
        if args.png:
            shown = [data for _, data in figures] + [x for x in (png or broken,) if x]
            written.append(_write(args.png, stack_pngs(shown) if shown else b""))
        if args.html:
            written.append(_write(args.html, page(
                args.title, tables, png, [*files, *args.benchmark_json],
                provenance(files, getattr(args, "_argv", sys.argv[1:])), broken, figures)))
    if args.merged_xml:
        write_results(results, args.merged_xml)
        written.append(args.merged_xml)
    for path in written:  # stderr: stdout may be the Markdown itself
        print(f"wrote {path} ({what})", file=sys.stderr)
    if gate_failed:
        print("wamrobust report: a gate failed; see the Gates table", file=sys.stderr)
        return 1
    return 0


#: Whose versions the HTML page records for itself: the tools that read the files and
#: drew the page (the run's own versions come from its JUnit file).
REPORT_PACKAGES = ("pytest-wamrobust", "junitparser", "numpy", "matplotlib")


def provenance(results: Sequence[str], argv: Sequence[str]) -> list[tuple[str, str]]:
    """What the HTML page records about how it was made: when, from which runs, in which
    environment each run played and the page was written, by which command."""
    headers = [run_header(path) for path in results]
    dates = [_readable(date) for date, _ in headers if date]
    return [
        ("Report written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Runs started", ", ".join(sorted(set(dates))) or "not recorded in the JUnit files"),
        ("Run versions, as recorded by the run", _run_versions(results, headers)),
        ("Report versions (wamrobust report)", versions_text(REPORT_PACKAGES)),
        ("Command", shlex.join(["wamrobust", *argv])),
    ]


def _run_versions(paths: Sequence[str], headers: Sequence[tuple[str, str]]) -> str:
    """One line when every run recorded the same versions, else one per file."""
    recorded = {path: versions for path, (_, versions) in zip(paths, headers, strict=True)}
    if len(set(recorded.values())) == 1:
        return next(iter(recorded.values())) or "not recorded in the JUnit files"
    return "; ".join(f"{path}: {versions or 'not recorded'}"
                     for path, versions in recorded.items())


def run_header(path: str) -> tuple[str, str]:
    """The `timestamp` pytest writes on a file's first <testsuite> (when the run started)
    and the versions the run recorded among its properties ("" where missing), read
    without parsing the whole file."""
    timestamp: str | None = None
    versions = ""
    try:
        for _, element in ET.iterparse(path, events=("start",)):
            if element.tag == "testsuite" and timestamp is None:
                timestamp = element.get("timestamp", "")
            elif element.tag == "property" and element.get("name") == VERSIONS:
                versions = element.get("value", "")
            elif element.tag == "testcase":  # the suite's own properties come first
                break
    except (OSError, ET.ParseError):  # read_results already vouched for the file
        pass
    return timestamp or "", versions


def _readable(timestamp: str) -> str:
    """`2026-12-01T08:39:18.040090+00:00` -> `2026-12-01 08:39:18 UTC`."""
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    offset = when.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else when.strftime(" UTC%z")
    return when.strftime("%Y-%m-%d %H:%M:%S") + zone


def _write(path: str, content: str | bytes) -> str:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return path
