"""What an earlier (finished, interrupted or killed) run left at a `--junitxml` path, for
`--wam-resume`: its identity and the cases it recorded with a final outcome.

The results log beside the JUnit file is read where there is one: it is written as
each case reports, so it holds every outcome the JUnit file holds and more (a run killed
with SIGKILL never writes its JUnit file, and one stopped by SIGINT or SIGTERM between
an episode's result and its teardown writes that case without it). A JUnit file alone
(a CI artifact, a run of a version before the log) is read as it is.

A final outcome is a played episode: solved (success) or not (failure). An errored
episode is not final: an error is the harness's, the simulator's or the policy
server's fault (a timeout, a crashed worker, a lost connection), often transient, and
an engineer resuming a run wants it played again; a case never run, or skipped, plays
too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from junitparser import JUnitXml, JUnitXmlError, TestSuite

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import RunIdentity
from pytest_wamrobust.core.model.results import FAILURE, SUCCESS, EpisodeResult
from pytest_wamrobust.records import junit
from pytest_wamrobust.records.results_log import log_path, read_log

#: The property that marks a carried-over case, naming the file it came from.
RESUMED_FROM = "resumed_from"
FINAL = (SUCCESS, FAILURE)


@dataclass(frozen=True)
class EarlierRun:
    source: Path  #: the file read: the JUnit file or its log
    identity: RunIdentity | None  #: None: written before runs recorded one
    results: list[EpisodeResult]

    def final(self) -> list[EpisodeResult]:
        return [r for r in self.results if r.status in FINAL]


def read_earlier_run(junit_path: str | Path) -> EarlierRun:
    path = Path(junit_path)
    log = log_path(path)
    if log.is_file():
        identity, results = read_log(log)
        return EarlierRun(log, identity, results)
    if not path.is_file():
        raise UsageError(f"--wam-resume {path}: no such file, and no results log {log.name} "
                         f"beside it; pass the --junitxml path of the run to resume")
    return EarlierRun(path, _junit_identity(path), junit.read_results([path]))


def carried_over(paths: Sequence[str | Path], identity: RunIdentity) -> dict[str, EpisodeResult]:
    """Case id -> the earlier outcome to carry over, marked with the file it came from.
    Any file of another run identity is one UsageError line, and nothing is carried."""
    runs = [read_earlier_run(path) for path in paths]
    for run in runs:
        problem = ("it records no run identity: an older pytest-wamrobust wrote it"
                   if run.identity is None else identity.mismatch(run.identity))
        if problem:
            raise UsageError(f"--wam-resume {run.source}: another run ({problem}); nothing "
                             f"carried over: resume with the same policy, suite and version, "
                             f"or drop --wam-resume")
    carried: dict[str, EpisodeResult] = {}
    origin: dict[str, Path] = {}
    for run in runs:
        for result in run.final():
            case = result.key.case_id
            if case in carried:
                raise UsageError(f"--wam-resume: case {case} has an outcome in both "
                                 f"{origin[case]} and {run.source}; pass each run's file once")
            result.extra[RESUMED_FROM] = str(run.source)
            carried[case], origin[case] = result, run.source
    return carried


def _junit_identity(path: Path) -> RunIdentity | None:
    """The `wam.run.*` properties of the file's test suites (None: a file of a version
    that wrote none, or not a JUnit file, which read_results then names)."""
    try:
        xml = JUnitXml.fromfile(str(path))
    except (SyntaxError, JUnitXmlError, ET.ParseError):
        return None
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    pairs = [(p.name, p.value) for suite in suites for p in suite.properties()]
    return RunIdentity.from_properties(pairs)
