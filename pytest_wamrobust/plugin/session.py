"""The controller's side of a run: gather every episode's result from the test reports,
judge the gates, print the table and set the exit status.

It reads only `report.user_properties`, which xdist ships from the workers, so `-n N`
and `-n 0` give the same numbers by construction. A case whose report carries no
result (a worker crash, a fixture that failed before the episode) is still recorded,
as an error with its seed; a collected case that never reported at all (xdist stopped
replacing crashed workers, the session stopped early) is recorded as `not_run`, an
error too, and the session cannot exit 0: no case is ever lost from the table.
"""

from __future__ import annotations

import os
import shlex
from functools import partial
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key  # the LogXML pytest writes the file with

from pytest_wamrobust.core.cases.seeding import episode_seed
from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.judging.compare import Comparison
from pytest_wamrobust.core.judging.verdict import RunVerdict, decide
from pytest_wamrobust.core.model.errors import HARNESS_ERROR, WORKER_CRASH
from pytest_wamrobust.core.model.results import ERROR, NOT_RUN, EpisodeResult, has_result_properties
from pytest_wamrobust.plugin import terminal
from pytest_wamrobust.plugin.baseline_gate import Baseline
from pytest_wamrobust.plugin.baseline_gate import summary_lines as baseline_lines
from pytest_wamrobust.plugin.early_stop import DECIDED, EARLY_STOP_KEY, STOP_FILE, EarlyStop
from pytest_wamrobust.plugin.progress import DEFAULT_INTERVAL_S, Progress
from pytest_wamrobust.plugin.run import SERVED_NAME, WamRun
from pytest_wamrobust.plugin.search import SearchLedger
from pytest_wamrobust.records import junit
from pytest_wamrobust.records.earlier_run import RESUMED_FROM
from pytest_wamrobust.records.node_ids import episode_case_key


class Controller:
    """Registered as a plugin on the controller (or the single process), never on workers."""

    def __init__(self, run: WamRun, config: pytest.Config) -> None:
        self.run = run
        self.config_reportchars = explicit_reportchars(config)
        self.baseline = Baseline.load(run)
        self.comparison: Comparison | None = None
        self.results: dict[str, EpisodeResult] = {}
        self.collected: set[str] = set()
        self.unrecorded: dict[str, tuple[str, str]] = {}
        self.not_run: dict[str, EpisodeResult] = {}
        self.skipped: dict[str, str] = {}
        self.other_failures: set[str] = set()
        self.rows: list[gates.Row] = []
        self.verdict: RunVerdict | None = None
        self.junit_family = "xunit1"
        self.verdicts: list[gates.Verdict] = []
        self.searches = SearchLedger(run)
        #: --wam-decide: cases skipped because every gate was decided (not missing)
        self.early = EarlyStop(run.thresholds, run.options.alpha) if run.options.decide else None
        interval = (DEFAULT_INTERVAL_S if run.options.progress is None
                    else run.options.progress)
        self.progress = Progress(interval, partial(_write_line, config))
        self.decided_skips: set[str] = set()
        if self.early is not None:
            config.stash[EARLY_STOP_KEY] = self.early

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.junit_family = choose_family(session.config)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return [family_header(self.junit_family)] if config.option.xmlpath else []

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """xdist: each worker learns the served policy's name (for its latency case) and
        where the --wam-decide stop file is."""
        node.workerinput[SERVED_NAME] = self.run.served_name
        if self.early is not None:
            node.workerinput[STOP_FILE] = str(self.early.stop_file)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.early is not None:
            self.early.close()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Without xdist: the cases this session owes a result (after -k, shards)."""
        self._collect(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        """With xdist the controller collects nothing; every worker reports the same ids."""
        self._collect(ids)

    def _collect(self, nodeids) -> None:
        nodeids = list(nodeids)
        self.collected.update(n for n in nodeids if episode_case_key(n) is not None)
        self.progress.expect(key for n in nodeids if (key := episode_case_key(n)) is not None)
        self.searches.collect(nodeids)
        if self.early is not None:
            keys = ((n, episode_case_key(n)) for n in nodeids)
            self.early.start([(n, key) for n, key in keys if key is not None])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.searches.record(report):
            return
        if has_result_properties(report.user_properties):
            result = EpisodeResult.from_properties(report.user_properties)
            if report.nodeid not in self.results:
                self.progress.record(result.key, result.success,
                                     played=RESUMED_FROM not in result.extra)
            self.results[report.nodeid] = result
            self.unrecorded.pop(report.nodeid, None)
            if self.early is not None:
                self.early.record(report.nodeid, result.success)
            return
        if report.skipped and episode_case_key(report.nodeid) is not None:
            reason = _reason(report)
            if reason.startswith(DECIDED):
                self.decided_skips.add(report.nodeid)
                return
            self.skipped[report.nodeid] = reason
            if self.early is not None:
                self.early.unavailable(report.nodeid)
            return
        if not report.failed or report.nodeid in self.results:
            return
        if episode_case_key(report.nodeid) is None:
            self.other_failures.add(report.nodeid)
        elif report.nodeid not in self.unrecorded:
            crashed = report.when == "???"  # xdist's report for a crashed worker's item
            self.unrecorded[report.nodeid] = (
                WORKER_CRASH if crashed else HARNESS_ERROR, _reason(report))
            if self.early is not None:
                self.early.record(report.nodeid, False)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport):
        """A case whose worker crashed is an error of the harness, not an unsolved task."""
        if report.failed and report.when == "???" and episode_case_key(report.nodeid):
            return "error", "E", "ERROR"
        return None

    def results_in_order(self) -> list[EpisodeResult]:
        return sorted(self.results.values(), key=lambda r: r.key)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After junitxml wrote its file: complete the results, judge, amend the XML."""
        for nodeid, (kind, reason) in self.unrecorded.items():
            self.results[nodeid] = self._error_result(nodeid, ERROR, kind, reason)
        if not session.config.option.collectonly:
            reason = _never_ran_reason(session)
            for nodeid in sorted(self.collected - set(self.results) - set(self.skipped)
                                 - self.decided_skips):
                self.not_run[nodeid] = self._error_result(nodeid, NOT_RUN, NOT_RUN, reason)
            self.results.update(self.not_run)
            self.searches.finish(reason)
        results = self.results_in_order()
        self.rows = gates.table_rows(results)
        stat = self.run.thresholds.latency_statistic
        self.verdicts = gates.evaluate(self.run.thresholds, self.rows,
                                       gates.chunk_latency(results, stat))
        if self.early is not None:
            self.verdicts = self.early.gate_verdicts(self.verdicts)
        self.verdicts += self.searches.verdicts()
        if self.baseline is not None and results:
            self.comparison = self.baseline.compare(results)
        collecting = session.config.option.collectonly  # nothing was to be judged
        if session.exitstatus in (pytest.ExitCode.OK,
                                  pytest.ExitCode.TESTS_FAILED) and not collecting:
            incomplete = len(self.not_run) + sum(kind == HARNESS_ERROR
                                                 for kind, _ in self.unrecorded.values())
            self.verdict = decide(results, self.verdicts, self.comparison,
                                  gates_configured=self.run.thresholds.configured,
                                  incomplete=incomplete + self.searches.incomplete,
                                  other_failures=len(self.other_failures),
                                  broken_searches=self.searches.broken,
                                  searches=len(self.searches.collected),
                                  max_error_rate=self.run.thresholds.max_error_rate or 0.0,
                                  decided_early=self.early.reason() if self.early else "",
                                  fail_inconclusive=bool(self.baseline
                                                         and self.baseline.fail_inconclusive),
                                  skipped=len(self.skipped))
            session.exitstatus = pytest.ExitCode(self.verdict.exit_status)
        xmlpath = getattr(session.config.option, "xmlpath", None)
        if xmlpath and Path(xmlpath).is_file() and (results or self.junit_family == "xunit2"):
            compared = ((self.baseline.path, self.comparison)
                        if self.baseline is not None and self.comparison else None)
            junit.amend(xmlpath, self.rows, self.verdicts if results else (), self.results,
                        compared, xunit2=self.junit_family == "xunit2")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus: int):
        """Outermost, so the table and the verdict print after pytest's short summary,
        last on screen. Unsolved episodes are one line per setting unless -rf / -rE
        asks for each: pytest's sections see them only while it prints."""
        hidden = _hide_episode_reports(terminalreporter, self.config_reportchars)
        try:
            return (yield)
        finally:
            for category, reports in hidden.items():
                terminalreporter.stats.setdefault(category, []).extend(reports)
            if self.results or self.skipped or self.searches.collected:
                self._write_summary(terminalreporter, hidden)

    def _write_summary(self, terminalreporter, hidden: dict[str, list]) -> None:
        lines = (terminal.summary_lines(self.run, self.results_in_order(), self.rows,
                                        self.verdicts)
                 if self.results or not self.searches.collected else [])
        lines += terminal.skipped_lines(self.skipped)
        lines += terminal.not_run_lines(list(self.not_run.values()), len(self.results))
        lines += terminal.hidden_lines(self.results_in_order(), hidden)
        lines += self.searches.lines()
        if self.early is not None:
            lines += self.early.lines()
        if self.comparison is not None and self.baseline is not None:
            lines += baseline_lines(self.baseline, self.comparison)
        if self.verdict is not None:
            lines.append(self.verdict.line)
        terminalreporter.write_sep("=", "wamrobust robustness")
        for line in lines:
            terminalreporter.write_line(line)

    def _error_result(self, nodeid: str, status: str, kind: str, reason: str) -> EpisodeResult:
        key = episode_case_key(nodeid)
        assert key is not None
        seed = episode_seed(key)
        try:
            spec = self.run.spec(key)
            params, seed = dict(spec.params), spec.episode_seed
        except Exception:  # noqa: BLE001 - the seed is what matters; params are a bonus
            params = {}
        # the name the policy reports for itself, so reports group this case with its run
        policy = next((r.policy for r in self.results.values() if r.policy),
                      self.run.policy_short_name)
        return EpisodeResult(key=key, status=status, steps=0, params=params,
                             episode_seed=seed, policy=policy,
                             error=reason, error_kind=kind)


def _write_line(config: pytest.Config, text: str) -> None:
    """A line of its own between pytest's progress dots (xdist's dots too, which
    `ensure_newline` does not see: it knows only the current test file's line)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    writer = getattr(reporter, "_tw", None)
    if writer is not None and writer.width_of_current_line:
        reporter.write("\n")
    reporter.write_line(text)


def explicit_reportchars(config: pytest.Config) -> str:
    """The -r characters the user typed (pytest's default "fE" is not a request)."""
    args = [*config.invocation_params.args, *config.getini("addopts"),
            *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    chars = ""
    for arg, following in zip(args, [*args[1:], ""], strict=True):
        if arg == "-r":
            chars += following
        elif arg.startswith("-r"):
            chars += arg[2:]
        elif arg.startswith("--report-chars="):
            chars += arg.split("=", 1)[1]
    return chars


def _hide_episode_reports(terminalreporter, reportchars: str) -> dict[str, list]:
    """Take the unsolved episodes' reports out of pytest's stats (put back after its
    summary), unless the user asked for them with -rf / -ra / -rA. Errors stay listed:
    they are few, and each is a fault to fix."""
    if any(char in reportchars for char in "faA"):
        return {}
    reports = terminalreporter.stats.get("failed", [])
    unsolved = [r for r in reports if episode_case_key(getattr(r, "nodeid", "")) is not None]
    if unsolved:
        terminalreporter.stats["failed"] = [r for r in reports if r not in unsolved]
    return {"failed": unsolved} if unsolved else {}


def _never_ran_reason(session: pytest.Session) -> str:
    """Why collected cases have no report, as far as the session can tell."""
    stopped = session.shouldfail or session.shouldstop
    if stopped:
        return f"never ran: the session stopped early ({stopped})"
    if session.exitstatus == pytest.ExitCode.INTERRUPTED:
        return "never ran: the session was interrupted"
    if session.config.pluginmanager.hasplugin("dsession"):
        return ("never ran: its xdist worker was lost and the worker restart limit was "
                "reached (--max-worker-restart)")
    return "never ran"


def _reason(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, "Skipped: message")
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    text = text.removeprefix("Failed: ")  # pytest.fail's marker, not part of the reason
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else f"failed in {report.when}"


def choose_family(config: pytest.Config) -> str:
    """The family the file is written in. Left unset, we write xunit1: per-episode
    properties inside each <testcase>, the shape junitparser, Jenkins and our own
    `wamrobust report` read best. A user who sets xunit2 gets a file valid under it."""
    user_set = any(arg.split("=", 1)[0].strip() == "junit_family"
                   for arg in config.getoption("override_ini", None) or [])
    # pytest 9 keeps the ini values in `_inicfg` and warns on `inicfg`; older ones the reverse
    inicfg = (config._inicfg if hasattr(config, "_inicfg")  # noqa: SLF001
              else getattr(config, "inicfg", None)) or {}
    if user_set or "junit_family" in inicfg:
        return str(config.getini("junit_family"))
    logxml = config.stash.get(xml_key, None)
    if logxml is not None:
        logxml.family = "xunit1"
    return "xunit1"


def family_header(family: str) -> str:
    if family == "xunit2":
        return ("wamrobust: JUnit xunit2 (schema-valid: per-episode wam.* properties as "
                "[[PROPERTY|name=value]] lines in each case's <system-out>)")
    return (f"wamrobust: JUnit {family} (per-episode wam.* properties inside each "
            f"<testcase>; junit_family=xunit2 writes a file valid under the xunit2 schema)")
