"""Read episode results out of JUnit XML files, and write them back as one merged file.

The `wam.*` test-case properties (core/model/results.py) are the whole interface: any JUnit
file pytest wrote for a wamrobust run - one per shard, per policy, per machine - can be
read and merged here, and nothing else is trusted. Bad files end in one `UsageError`
line naming the file and what to pass instead; an episode whose suite, setting, status or
level cannot be right is left out of the rates with one warning line on stderr.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from junitparser import (
    Error,
    Failure,
    JUnitXml,
    JUnitXmlError,
    Properties,
    Property,
    Skipped,
    TestCase,
    TestSuite,
)
from junitparser.junitparser import FinalResult

from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.judging.compare import REGRESSED, Comparison
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import STATUSES, EpisodeResult, result_values
from pytest_wamrobust.core.model.types import CLEAN, LEVELS, SETTINGS, CaseKey
from pytest_wamrobust.core.search.breaking_point import SearchResult
from pytest_wamrobust.records.node_ids import EPISODE_TEST, case_name

#: Properties that mark a test case as an episode, even one too broken to read.
EPISODE_PROPERTIES = ("suite", "task", "setting", "status")

Warn = Callable[[str], None]


def warn_on_stderr(message: str) -> None:
    print(f"wamrobust: warning: {message}", file=sys.stderr)


def read_results(paths: Sequence[str | Path], warn: Warn = warn_on_stderr) -> list[EpisodeResult]:
    """Every wamrobust episode in `paths`, merged; a case may appear once per policy, in
    one file or across them, or its episode would count twice in every rate."""
    if not paths:
        raise UsageError("no JUnit files given; pass the files written by pytest --junitxml")
    seen: dict[tuple[str, CaseKey], Path] = {}
    results: list[EpisodeResult] = []
    for path in map(Path, paths):
        for result in _read_file(path, warn):
            key = (result.policy, result.key)
            if key in seen:
                where = seen[key]
                raise UsageError(
                    f"case {result.key.case_id} of policy {result.policy!r} " + (
                        f"appears twice in {path}; pass the file pytest wrote, not runs "
                        f"pasted into one file" if where is path else
                        f"appears in both {where} and {path}; pass each shard's file once"))
            seen[key] = path
            results.append(result)
    return results


def results_of_one_policy(paths: Sequence[str | Path], policy: str | None, what: str,
                          choose_with: str | None = None) -> list[EpisodeResult]:
    """The results of `policy` in `paths` or, unnamed, of the only policy there: the one
    reader behind `wamrobust compare` and `--wam-baseline`. `what` names the files in
    the error line, `choose_with` the option that picks a policy (if there is one)."""
    results = read_results(paths)
    policies = sorted({r.policy for r in results})
    if policy is not None:
        chosen = [r for r in results if r.policy == policy]
        if not chosen:
            raise UsageError(f"{what} has no results of policy {policy!r}; it has: "
                             f"{', '.join(policies)}")
        return chosen
    if len(policies) > 1:
        fix = f"choose one with {choose_with}" if choose_with else "give the file of one run"
        raise UsageError(f"{what} holds results of {len(policies)} policies "
                         f"({', '.join(policies)}); {fix}")
    return results


def _read_file(path: Path, warn: Warn) -> list[EpisodeResult]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file; pass the file written by pytest --junitxml")
    try:
        xml = JUnitXml.fromfile(str(path))
    except SyntaxError as exc:  # ElementTree's ParseError and lxml's XMLSyntaxError
        raise UsageError(
            f"{path} is not XML ({exc}); pass the file written by pytest --junitxml") from None
    except JUnitXmlError:
        root = ET.parse(path).getroot().tag
        raise UsageError(
            f"{path} is not a JUnit report (root element <{root}>, expected <testsuites> or "
            f"<testsuite>); pass the file written by pytest --junitxml") from None
    results, left_out = [], 0
    for case in _cases(xml):
        properties = _properties(case)
        values = result_values(properties)
        if not any(name in values for name in EPISODE_PROPERTIES):
            continue
        problem = _unusable(values)
        if problem:
            warn(f"{path}: test case {case.name!r} {problem}; left out of the rates")
            left_out += 1
            continue
        try:
            results.append(EpisodeResult.from_properties(properties))
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(
                f"{path}: test case {case.name!r} has malformed wam.* properties "
                f"({type(exc).__name__}: {exc}); was the file edited by hand?") from None
    if not results and not left_out and _search_results(xml):
        return []  # a --wam-search run: its cases are read by read_searches
    if not results and left_out:
        raise UsageError(f"{path}: all {left_out} episodes were left out (see the warnings); "
                         f"pass a file pytest wrote, not edited by hand")
    if not results:
        raise UsageError(
            f"{path} has no wamrobust results (no test case carries wam.* properties); write it "
            f"with pytest --suite=... --junitxml={path.name}")
    return results


def read_searches(paths: Sequence[str | Path]) -> list[SearchResult]:
    """Every --wam-search case (`wam.search`) in `paths`, files read_results vouched for."""
    return [r for path in map(Path, paths) for r in _search_results(JUnitXml.fromfile(str(path)))]


def _search_results(xml: JUnitXml) -> list[SearchResult]:
    found = (SearchResult.from_properties(_properties(case)) for case in _cases(xml))
    return [r for r in found if r is not None]


def _unusable(values: Mapping[str, str]) -> str:
    """What makes an episode's properties impossible to count right ("" if nothing):
    counted anyway, it would land in a wrong row or vanish from the table."""
    setting, status, level = values.get("setting"), values.get("status"), values.get("level")
    if not values.get("suite"):
        return "has no wam.suite"
    if setting not in SETTINGS:
        return f"has unknown setting {setting!r} (known: {', '.join(SETTINGS)})"
    if status not in STATUSES:
        return f"has unknown status {status!r} (known: {', '.join(STATUSES)})"
    levels = ("0",) if setting == CLEAN else tuple(map(str, LEVELS))
    if level is not None and level.strip() not in levels:
        return f"has unknown level {level!r} for setting {setting} (known: {', '.join(levels)})"
    return ""


def _cases(xml: JUnitXml) -> Iterable[TestCase]:
    for suite in xml:
        # a <testsuite> may nest further <testsuite>s (some merge tools do this)
        yield from _suite_cases(suite)


def _suite_cases(suite: TestSuite) -> Iterable[TestCase]:
    for child in suite.iterchildren(TestSuite):
        yield from _suite_cases(child)
    yield from suite


def _properties(case: TestCase) -> list[tuple[str, str]]:
    """Inside the case (xunit1), or as lines of its <system-out> (a file declared xunit2)."""
    props = case.child(Properties)
    if props is None:
        return property_lines_to_pairs(case.system_out or "")
    return [(p.name, p.value) for p in props]


#: xunit2's schema has no <properties> inside <testcase>: in a file declared xunit2 each
#: property becomes one line of the case's <system-out> (the convention test-results-
#: reporter and Azure DevOps read); `wamrobust report` reads both shapes.
PROPERTY_LINE = "[[PROPERTY|{name}={value}]]"



def property_lines_to_pairs(text: str) -> list[tuple[str, str]]:
    """Inverse of the xunit2 shape: the (name, value) pairs in a <system-out>."""
    head, tail = PROPERTY_LINE.split("{name}={value}")
    pairs = []
    for line in (text or "").splitlines():
        if line.startswith(head) and line.endswith(tail) and "=" in line:
            name, _, value = line[len(head):-len(tail)].partition("=")
            pairs.append((name, value))
    return pairs


def _properties_to_system_out(xml: JUnitXml) -> None:
    """Move every test case's properties into its <system-out>, so the file validates
    against the xunit2 schema it declares (pytest writes them inside <testcase>)."""
    for case in _cases(xml):
        props = case.child(Properties)
        if props is None:
            continue
        lines = [PROPERTY_LINE.format(name=p.name, value=p.value) for p in props]
        case.remove(props)
        case.system_out = "\n".join(filter(None, ["\n".join(lines), case.system_out]))


def _as_properties(pairs: Iterable[tuple[str, str]]) -> Properties:
    """A <properties> element holding `pairs` in order, as pytest writes record_property's."""
    props = Properties()
    for name, value in pairs:
        props.add_property(Property(name, value))
    return props


def write_results(results: Iterable[EpisodeResult], path: str | Path,
                  name: str = "wamrobust") -> Path:
    """One JUnit file holding `results`, shaped like pytest's own (xunit1 properties,
    <failure>/<error> elements, the video attachment line in system-out)."""
    cases = []
    for result in results:
        case = TestCase(case_name(EPISODE_TEST, result.key.case_id),
                        f"wamrobust.{result.policy or 'policy'}", result.wall_time_s)
        case.append(_as_properties(result.to_properties()))
        case.result = _outcome(result)
        if result.video:
            case.system_out = attachment_line(result.video)
        cases.append(case)
    suite = TestSuite(name)
    suite.add_testcases(cases)  # one statistics pass; add_testcase would redo it per case
    xml = JUnitXml()
    xml.add_testsuite(suite)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path))
    return path


#: Jenkins' (and GitLab's) convention for a file attached to a test case.
ATTACHMENT = "[[ATTACHMENT|{}]]"


def attachment_line(path: str | Path) -> str:
    return ATTACHMENT.format(path)


def link_videos(junit_path: str | Path) -> int:
    """Add the `[[ATTACHMENT|...]]` line to system-out of every case with a `wam.video`
    property (pytest writes captured output only under junit_logging). Returns how many
    were linked."""
    xml = JUnitXml.fromfile(str(junit_path))
    linked = _link_videos(xml)
    if linked:
        xml.write(str(junit_path))
    return linked


def _link_videos(xml: JUnitXml) -> int:
    linked = 0
    for case in _cases(xml):
        props = case.child(Properties)
        video = next((p.value for p in props or () if p.name == "wam.video"), "")
        line = attachment_line(video)
        if video and line not in (case.system_out or ""):
            case.system_out = "\n".join(filter(None, [case.system_out, line]))
            linked += 1
    return linked


GATES_SUITE = "wamrobust.gates"


def amend(path: str | Path, rows: Sequence[gates.Row], verdicts: Sequence[gates.Verdict],
          results: Mapping[str, EpisodeResult],
          baseline: tuple[str, Comparison] | None = None, *, xunit2: bool = False) -> None:
    """What the controller adds to pytest's file after the session, in one read and one
    write: every case of `results` (node id -> result) that pytest did not write whole,
    the gates, video links, and for a file declared xunit2 the properties moved where its
    schema allows them."""
    xml = JUnitXml.fromfile(str(path))
    if isinstance(xml, TestSuite):  # a bare <testsuite> root: wrap it
        wrapped = JUnitXml()
        wrapped.add_testsuite(xml)
        xml = wrapped
    _complete_cases(xml, results)
    if verdicts or baseline is not None:
        xml.add_testsuite(_gates_suite(rows, verdicts, baseline))
    _link_videos(xml)
    if xunit2:
        _properties_to_system_out(xml)
    xml.write(str(path))


def _gates_suite(rows: Sequence[gates.Row], verdicts: Sequence[gates.Verdict],
                 baseline: tuple[str, Comparison] | None) -> TestSuite:
    """Only where something was judged: an empty suite would read as a passed gate."""
    suite = TestSuite(GATES_SUITE)
    suite.append(_as_properties(
        (f"wam.table.{row.setting}",
         f"n={row.n} successes={row.successes} errors={row.errors} "
         f"rate={row.rate:.4f} ci95=[{row.ci[0]:.4f},{row.ci[1]:.4f}]")
        for row in rows))
    cases = [_gate_case(v) for v in verdicts]
    if baseline is not None:
        cases.append(_baseline_case(*baseline))
    suite.add_testcases(cases)
    return suite


def _gate_case(verdict: gates.Verdict) -> TestCase:
    case = TestCase(verdict.name, GATES_SUITE, 0.0)
    case.append(_as_properties([("wam.gate.observed", f"{verdict.observed:.4f}"),
                                ("wam.gate.threshold", f"{verdict.threshold:g}"),
                                ("wam.gate.passed", str(verdict.passed).lower())]))
    if verdict.passed is False:
        case.result = [Failure(f"gate {verdict.name}: {verdict.detail}")]
    elif verdict.passed is None:
        case.result = [Skipped(f"gate {verdict.name}: {verdict.detail}")]
    return case


def _baseline_case(path: str, comparison: Comparison) -> TestCase:
    case = TestCase("baseline", GATES_SUITE, 0.0)
    per_setting = [
        (f"wam.baseline.{row.setting}",
         f"pairs={row.n} baseline={row.baseline_rate:.4f} candidate={row.candidate_rate:.4f} "
         f"lost={row.only_baseline} gained={row.only_candidate} "
         f"p_holm={row.adjusted_p:.3g} verdict={row.verdict}")
        for row in comparison.rows]
    case.append(_as_properties([("wam.baseline.file", str(path)), *per_setting]))
    regressed = [row.setting for row in comparison.rows if row.verdict == REGRESSED]
    if regressed:
        case.result = [Failure(f"regressed against {path}: {', '.join(regressed)}")]
    return case


def _complete_cases(xml: JUnitXml, results: Mapping[str, EpisodeResult]) -> None:
    """Every case with a result is in the file, with its properties and its outcome.
    pytest writes a case on its first report and its properties on its teardown report:
    a crashed worker's case has no teardown report, a session interrupted between a
    case's reports (SIGTERM) can leave it without properties, out of the file or as a
    <testcase/> with no name at all (dropped here: the case is written whole below), and
    a case that never ran has no report at all."""
    missing = {nodeid.split("::")[-1]: (nodeid, result) for nodeid, result in results.items()}
    for each in xml:
        nameless = [case for case in each if case.name is None]
        for case in nameless:
            each.remove_testcase(case)
        if nameless:
            each.update_statistics()
        for case in each:
            found = missing.pop(case.name, None)
            if found is None or case.child(Properties) is not None:
                continue
            outcome = case.result or _outcome(found[1])
            case.result = []  # re-added after, so <properties> comes first, as pytest writes it
            case.append(_as_properties(found[1].to_properties()))
            case.result = outcome
    if not missing:
        return
    suite = next(iter(xml), None)
    if suite is None:
        suite = TestSuite("pytest")
        xml.add_testsuite(suite)
    for nodeid, result in missing.values():
        path, _, name = nodeid.rpartition("::")
        case = TestCase(name, path.replace("/", ".").removesuffix(".py"), 0.0)
        case.append(_as_properties(result.to_properties()))
        case.result = _outcome(result)
        suite.add_testcase(case)
    suite.update_statistics()


def _outcome(result: EpisodeResult) -> list[FinalResult]:
    """The outcome its test_episode case reports (plugin/cases.py)."""
    if result.errored:
        return [Error(result.error or "episode error", result.error_kind or None)]
    return [] if result.success else [Failure(f"task not solved ({result.describe()})")]
