"""--wam-resume, and what makes every run resumable.

pytest writes its JUnit file only when the session ends: on SIGINT and SIGTERM it
still does (the cases not played are `not_run` errors), on SIGKILL it writes nothing. So
the controller also records, from the start, the run's identity (`wam.run.*` properties
of the JUnit test suite, core/model/identity.py) and appends each case's result to the
results log beside the JUnit file as it reports (records/results_log.py).

With --wam-resume the controller reads what earlier runs left (records/earlier_run.py)
in `pytest_configure`, before any episode. The carried outcomes travel to the
processes that play episodes in a file (its path in `workerinput`, as the --wam-decide
stop file's), and the `episode_result` fixture returns a carried case's outcome instead
of playing it: the case reports, and is counted by the table, the gates, --wam-decide
and the verdict, exactly as if it had been played, marked `wam.resumed_from`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key

from pytest_wamrobust import RUN_PACKAGES, __version__, versions_text
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import VERSIONS, RunIdentity, policy_fingerprint
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.results import EpisodeResult, has_result_properties
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.plugin.run import WamRun
from pytest_wamrobust.records.earlier_run import RESUMED_FROM, carried_over
from pytest_wamrobust.records.node_ids import episode_case_key
from pytest_wamrobust.records.results_log import ResultsLog, log_path

PLUGIN_NAME = "wamrobust-record"
#: workerinput key of the carried outcomes' file.
CARRIED_FILE = "wamrobust_carried_file"
#: The carried outcomes by case id, in the process that plays the episodes.
CARRIED_KEY = pytest.StashKey[dict[str, EpisodeResult]]()


def run_identity(run: WamRun) -> RunIdentity:
    """This run's identity: the --policy value and the fingerprint of what it computes
    with, the suite (with its --suite-arg options) and this package's version."""
    options = run.options
    factory = registry.policy_factory(run.policy_spec)
    ctx = PolicyContext.from_options(run.suite.env_spec, options.policy_args)
    suite = run.suite.name + "".join(f" {key}={value}"
                                     for key, value in sorted(options.suite_args.items()))
    return RunIdentity(run.policy_spec, policy_fingerprint(factory, ctx), suite, __version__)


class RunRecord:
    """Registered on the controller (or the single process) of every --suite run."""

    def __init__(self, run: WamRun, config: pytest.Config) -> None:
        self.identity = run_identity(run)
        #: the versions of the Python that plays the episodes (the simulator's, when not this)
        self.versions = (run.simulator.versions_text if run.simulator is not None
                         else versions_text(RUN_PACKAGES))
        self.resumed = tuple(run.options.resume or ())
        #: UsageError before any episode when a file is another run's or unreadable
        self.carried = carried_over(self.resumed, self.identity) if self.resumed else {}
        config.stash[CARRIED_KEY] = self.carried
        xmlpath: str | None = getattr(config.option, "xmlpath", None)
        self.log = open_log(log_path(xmlpath)) if xmlpath else None
        self.logged: set[str] = set()
        self.folder = Path(tempfile.mkdtemp(prefix="wamrobust-resume-"))
        self.carried_file = self.folder / "carried.json"
        self.carried_file.write_text(json.dumps([r.to_properties()
                                                 for r in self.carried.values()]))

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        logxml = session.config.stash.get(xml_key, None)
        if logxml is not None:
            for name, value in [*self.identity.properties(),
                                (VERSIONS, self.versions)]:
                logxml.add_global_property(name, value)
        if self.log is not None:
            self.log.begin(self.identity)

    def pytest_report_header(self) -> list[str]:
        if not self.resumed:
            return []
        sources = sorted({r.extra.get(RESUMED_FROM, "") for r in self.carried.values()})
        return [f"wamrobust: --wam-resume carries over {len(self.carried):,} cases with a final "
                f"outcome from {', '.join(sources) or ', '.join(self.resumed)}; the other "
                f"cases play (errors play again)"]

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput[CARRIED_FILE] = str(self.carried_file)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """One log line per episode, when its first report with a result arrives."""
        if (self.log is None or report.nodeid in self.logged
                or episode_case_key(report.nodeid) is None
                or not has_result_properties(report.user_properties)):
            return
        self.logged.add(report.nodeid)
        self.log.append(report.nodeid, ((name, str(value))
                                         for name, value in report.user_properties))

    def pytest_unconfigure(self) -> None:
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def open_log(path: Path) -> ResultsLog:
    """This run's log, a writable path checked before any episode."""
    try:
        return ResultsLog(path)
    except OSError as exc:
        raise UsageError(f"cannot write the results log {path} beside --junitxml "
                         f"({exc.strerror or exc}); choose a writable --junitxml path") from None


def carried_result(config: pytest.Config, key: CaseKey) -> EpisodeResult | None:
    """The earlier outcome of this case that --wam-resume carries over (None: play it)."""
    carried = config.stash.get(CARRIED_KEY, None)
    if carried is None:
        path = getattr(config, "workerinput", {}).get(CARRIED_FILE)
        carried = {}
        if path is not None:
            for properties in json.loads(Path(path).read_text()):
                result = EpisodeResult.from_properties(properties)
                carried[result.key.case_id] = result
        config.stash[CARRIED_KEY] = carried
    return carried.get(key.case_id)
