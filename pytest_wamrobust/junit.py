"""Write the gate verdicts into pytest's JUnit file, after the session, on the controller.

Only per-test properties survive xdist, so session-level facts (the per-setting table,
the gates) cannot travel through `record_testsuite_property`; they are appended here
as their own `<testsuite name="wamrobust.gates">`, one test case per gate, with a
`<failure>` where a gate failed, so Jenkins and GitLab show a broken gate like a
broken test; with --wam-baseline, one more case holds the comparison and fails on a
regression. Cases whose worker crashed get their `wam.*` properties here too, and
collected cases that never ran are added as `<error>` cases, so the file accounts for
every case the session collected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key  # the LogXML pytest writes the file with
from junitparser import (
    Error,
    Failure,
    JUnitXml,
    Properties,
    Property,
    Skipped,
    TestCase,
    TestSuite,
)

from .core import gates
from .core.compare import REGRESSED, Comparison
from .core.results import EpisodeResult

GATES_SUITE = "wamrobust.gates"
def choose_family(config: pytest.Config) -> str:
    """The family the file is written in. Left unset, we write xunit1: per-episode
    properties inside each <testcase>, the shape junitparser, Jenkins and our own
    `wamrobust report` read best. A user who sets xunit2 gets a file valid under it."""
    user_set = any(arg.split("=", 1)[0].strip() == "junit_family"
                   for arg in config.getoption("override_ini", None) or [])
    inicfg = getattr(config, "_inicfg", None) or getattr(config, "inicfg", None) or {}
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


def add_gates(path: str | Path, rows: Sequence[gates.Row], verdicts: Sequence[gates.Verdict],
              unrecorded: Mapping[str, EpisodeResult], not_run: Mapping[str, EpisodeResult],
              baseline: tuple[str, Comparison] | None = None) -> None:
    xml = JUnitXml.fromfile(str(path))
    if isinstance(xml, TestSuite):  # a bare <testsuite> root: wrap it
        wrapped = JUnitXml()
        wrapped.add_testsuite(xml)
        xml = wrapped
    _complete_properties(xml, unrecorded)
    _add_not_run(xml, not_run)
    if verdicts or baseline is not None:
        xml.add_testsuite(_gates_suite(rows, verdicts, baseline))
    xml.write(str(path))


def _gates_suite(rows: Sequence[gates.Row], verdicts: Sequence[gates.Verdict],
                 baseline: tuple[str, Comparison] | None) -> TestSuite:
    """Only where something was judged: an empty suite would read as a passed gate."""
    suite = TestSuite(GATES_SUITE)
    table = Properties()
    for row in rows:
        low, high = row.ci
        table.add_property(Property(
            f"wam.table.{row.setting}",
            f"n={row.n} successes={row.successes} errors={row.errors} "
            f"rate={row.rate:.4f} ci95=[{low:.4f},{high:.4f}]"))
    suite.append(table)
    cases = [_gate_case(v) for v in verdicts]
    if baseline is not None:
        cases.append(_baseline_case(*baseline))
    suite.add_testcases(cases)
    return suite


def _gate_case(verdict: gates.Verdict) -> TestCase:
    case = TestCase(verdict.name, GATES_SUITE, 0.0)
    props = Properties()
    for name, value in (("observed", f"{verdict.observed:.4f}"),
                        ("threshold", f"{verdict.threshold:g}"),
                        ("passed", str(verdict.passed).lower())):
        props.add_property(Property(f"wam.gate.{name}", value))
    case.append(props)
    if verdict.passed is False:
        case.result = [Failure(f"gate {verdict.name}: {verdict.detail}")]
    elif verdict.passed is None:
        case.result = [Skipped(f"gate {verdict.name}: {verdict.detail}")]
    return case


def _baseline_case(path: str, comparison: Comparison) -> TestCase:
    case = TestCase("baseline", GATES_SUITE, 0.0)
    props = Properties()
    props.add_property(Property("wam.baseline.file", str(path)))
    for row in comparison.rows:
        props.add_property(Property(
            f"wam.baseline.{row.setting}",
            f"pairs={row.n} baseline={row.baseline_rate:.4f} candidate={row.candidate_rate:.4f} "
            f"lost={row.only_baseline} gained={row.only_candidate} "
            f"p_holm={row.adjusted_p:.3g} verdict={row.verdict}"))
    case.append(props)
    regressed = [row.setting for row in comparison.rows if row.verdict == REGRESSED]
    if regressed:
        case.result = [Failure(f"regressed against {path}: {', '.join(regressed)}")]
    return case


def _add_not_run(xml: JUnitXml, not_run: Mapping[str, EpisodeResult]) -> None:
    """pytest writes nothing for a case without a report; the verdict still covers it."""
    if not not_run:
        return
    suite = next(iter(xml), None)
    if suite is None:
        suite = TestSuite("pytest")
        xml.add_testsuite(suite)
    for nodeid, result in not_run.items():
        path, _, name = nodeid.rpartition("::")
        case = TestCase(name, path.replace("/", ".").removesuffix(".py"), 0.0)
        props = Properties()
        for key, value in result.to_properties():
            props.add_property(Property(key, value))
        case.append(props)
        case.result = [Error(result.error, result.error_kind)]
        suite.add_testcase(case)
    suite.update_statistics()


def _complete_properties(xml: JUnitXml, unrecorded: Mapping[str, EpisodeResult]) -> None:
    """pytest writes properties only from a teardown report, which a crashed test never has."""
    if not unrecorded:
        return
    by_name = {nodeid.split("::")[-1]: result for nodeid, result in unrecorded.items()}
    for suite in xml:
        for case in suite:
            result = by_name.get(case.name)
            if result is None or case.child(Properties) is not None:
                continue
            props = Properties()
            for name, value in result.to_properties():
                props.add_property(Property(name, value))
            outcome = case.result
            case.result = []  # re-added after, so <properties> comes first, as pytest writes it
            case.append(props)
            case.result = outcome
