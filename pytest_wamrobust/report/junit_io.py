"""Read episode results out of JUnit XML files, and write them back as one merged file.

The `wam.*` test-case properties (core/results.py) are the whole interface: any JUnit
file pytest wrote for a wamrobust run - one per shard, per policy, per machine - can be
read and merged here, and nothing else is trusted. Bad files end in one `UsageError`
line naming the file and what to pass instead; an episode whose suite, axis, status or
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
    TestCase,
    TestSuite,
)

from ..core.errors import UsageError
from ..core.results import FAILURE, PREFIX, STATUSES, EpisodeResult
from ..core.types import CLEAN, LEVELS, SETTINGS, CaseKey
from ..video import attachment_line

#: Properties that mark a test case as an episode, even one too broken to read.
EPISODE_PROPERTIES = ("suite", "task", "axis", "status")

Warn = Callable[[str], None]


def warn_on_stderr(message: str) -> None:
    print(f"wamrobust: warning: {message}", file=sys.stderr)


def read_results(paths: Sequence[str | Path], warn: Warn = warn_on_stderr) -> list[EpisodeResult]:
    """Every wamrobust episode in `paths`, merged; a case may appear once per policy."""
    if not paths:
        raise UsageError("no JUnit files given; pass the files written by pytest --junitxml")
    seen: dict[tuple[str, CaseKey], Path] = {}
    results: list[EpisodeResult] = []
    for path in map(Path, paths):
        for result in _read_file(path, warn):
            where = seen.setdefault((result.policy, result.key), path)
            if where is not path:
                raise UsageError(
                    f"case {result.key.case_id} of policy {result.policy!r} appears in both "
                    f"{where} and {path}; pass each shard's file once")
            results.append(result)
    return results


def _read_file(path: Path, warn: Warn) -> list[EpisodeResult]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file; pass the file written by pytest --junitxml")
    try:
        xml = JUnitXml.fromfile(str(path))
    except SyntaxError as exc:  # ElementTree's ParseError and lxml's XMLSyntaxError
        raise UsageError(f"{path} is not XML ({exc}); pass the file written by pytest --junitxml") from None
    except JUnitXmlError:
        root = ET.parse(path).getroot().tag
        raise UsageError(
            f"{path} is not a JUnit report (root element <{root}>, expected <testsuites> or "
            f"<testsuite>); pass the file written by pytest --junitxml") from None
    results, left_out = [], 0
    for case in _cases(xml):
        properties = _properties(case)
        values = {n[len(PREFIX):]: v for n, v in properties if n.startswith(PREFIX)}
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
    if not results and left_out:
        raise UsageError(f"{path}: all {left_out} episodes were left out (see the warnings); "
                         f"pass a file pytest wrote, not edited by hand")
    if not results:
        raise UsageError(
            f"{path} has no wamrobust results (no test case carries wam.* properties); write it "
            f"with pytest --suite=... --junitxml={path.name} and junit_family=xunit1")
    return results


def _unusable(values: Mapping[str, str]) -> str:
    """What makes an episode's properties impossible to count right ("" if nothing):
    counted anyway, it would land in a wrong row or vanish from the table."""
    axis, status, level = values.get("axis"), values.get("status"), values.get("level")
    if not values.get("suite"):
        return "has no wam.suite"
    if axis not in SETTINGS:
        return f"has unknown axis {axis!r} (known: {', '.join(SETTINGS)})"
    if status not in STATUSES:
        return f"has unknown status {status!r} (known: {', '.join(STATUSES)})"
    levels = ("0",) if axis == CLEAN else tuple(map(str, LEVELS))
    if level is not None and level.strip() not in levels:
        return f"has unknown level {level!r} for axis {axis} (known: {', '.join(levels)})"
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


def conform_to_xunit2(path: str | Path) -> None:
    """Move every test case's properties into its <system-out>, so the file validates
    against the xunit2 schema it declares (pytest writes them inside <testcase>)."""
    xml = JUnitXml.fromfile(str(path))
    for suite in (xml if not isinstance(xml, TestSuite) else [xml]):
        for case in suite:
            props = case.child(Properties)
            if props is None:
                continue
            lines = [PROPERTY_LINE.format(name=p.name, value=p.value) for p in props]
            case.remove(props)
            case.system_out = "\n".join(filter(None, ["\n".join(lines), case.system_out]))
    xml.write(str(path))


def write_results(results: Iterable[EpisodeResult], path: str | Path,
                  name: str = "wamrobust") -> Path:
    """One JUnit file holding `results`, shaped like pytest's own (xunit1 properties,
    <failure>/<error> elements, the video attachment line in system-out)."""
    cases = []
    for result in results:
        case = TestCase(f"test_episode[{result.key.case_id}]",
                        f"wamrobust.{result.policy or 'policy'}", result.wall_time_s)
        props = Properties()
        for key, value in result.to_properties():
            props.add_property(Property(key, value))
        case.append(props)
        if result.status == FAILURE:
            case.result = [Failure(f"task not solved in {result.steps} steps")]
        elif result.errored:
            case.result = [Error(result.error or "episode error", result.error_kind or None)]
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
