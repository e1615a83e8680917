"""`--wam-ray`: the pytest session drives, Ray actors play the episodes.

Registered on the controller only. It connects at session start (a wrong address is one
line before anything runs), runs the other tests here first (the latency case then times
the policy on a quiet machine; the cases --wam-resume carries over), hands every other
generated episode case to the executor and
runs each case's test as its result arrives, so progress, JUnit, the table, the gates and
`--wam-baseline` see exactly what they see under `-n N`.
"""

from __future__ import annotations

import pytest

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.distributed.episodes import EpisodeJob, Outcome
from pytest_wamrobust.distributed.ray_executor import RayExecutor
from pytest_wamrobust.plugin.early_stop import stop_reason
from pytest_wamrobust.plugin.options import DEFAULT_ARTIFACTS, RAY_LOCAL
from pytest_wamrobust.plugin.resume import carried_result
from pytest_wamrobust.plugin.run import WamRun
from pytest_wamrobust.records.node_ids import episode_case_key

PLUGIN_NAME = "wamrobust-ray"


class RayDispatch:
    def __init__(self, run: WamRun) -> None:
        self.run = run
        self.executor: RayExecutor | None = None
        self.outcomes: dict[CaseKey, Outcome] = {}
        self.policy_name = ""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        options = self.run.options
        job = EpisodeJob(suite=options.suite or self.run.suite.name,
                         policy=self.run.policy_spec, suite_args=dict(options.suite_args),
                         policy_args=dict(options.policy_args),
                         infer_timeout_s=options.infer_deadline_s, video=options.video or "none",
                         shared_policy=options.ray_policy == "shared",
                         replays=dict(self.run.replays))
        address = None if options.ray == RAY_LOCAL else options.ray
        # a suite whose simulator lives in another Python: its actors start there
        runtime_env = ({"py_executable": str(self.run.simulator.python)}
                       if self.run.simulator is not None else None)
        try:
            self.executor = RayExecutor(job, address, options.ray_cpus or 1.0, runtime_env)
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None

    def pytest_report_header(self) -> list[str]:
        return [f"wamrobust: {self.executor.description}"] if self.executor else []

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.executor is None or (session.testsfailed and
                                     not session.config.option.continue_on_collection_errors):
            return None  # pytest's own loop: collection errors, --collect-only
        dispatched = {key: item for item in session.items
                      if (key := episode_case_key(item.nodeid)) is not None
                      and carried_result(session.config, key) is None}  # --wam-resume's
        sent = {item.nodeid for item in dispatched.values()}
        here = [item for item in session.items if item.nodeid not in sent]
        unrun = {item.nodeid: item for item in [*here, *dispatched.values()]}
        for item in here:
            _run_one(session, unrun, item)
        outcomes = self.executor.outcomes(list(dispatched))
        try:
            for outcome in outcomes:
                self.outcomes[outcome.key] = outcome
                _run_one(session, unrun, dispatched[outcome.key])
                if stop_reason(session.config):  # --wam-decide: every gate is decided
                    break
        finally:
            outcomes.close()  # on -x, Ctrl-C or a decided run: the actors go
        for item in list(unrun.values()):  # skipped with the decision's reason
            _run_one(session, unrun, item)
        return True

    def pytest_sessionfinish(self) -> None:
        if self.executor is not None:
            self.executor.close()

    def result_for(self, key: CaseKey) -> EpisodeResult | None:
        """The case's result from its actor (None: not a dispatched case). A case the
        actor could not build is skipped, one whose policy could not be built fails."""
        outcome = self.outcomes.get(key)
        if outcome is None:
            return None
        if outcome.unavailable:
            pytest.skip(outcome.unavailable)
        if outcome.build_error:
            pytest.fail(outcome.build_error, pytrace=False)
        result = outcome.keep_video(self.run.options.artifacts or DEFAULT_ARTIFACTS)
        assert result is not None  # an outcome has a result or a reason
        if outcome.node:
            self.policy_name = self.policy_name or result.policy
            result.extra["ray_actor"] = outcome.node
        else:  # the executor's own error: name the policy as the run's results do
            result.policy = self.policy_name or self.run.policy_short_name
        return result


def _run_one(session: pytest.Session, unrun: dict[str, pytest.Item], item: pytest.Item) -> None:
    """pytest's loop body for one item; `nextitem` is any item still to run, which is
    all that fixture teardown needs from it."""
    del unrun[item.nodeid]
    nextitem = next(iter(unrun.values()), None)
    item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
    if session.shouldfail:
        raise session.Failed(session.shouldfail)
    if session.shouldstop:
        raise session.Interrupted(session.shouldstop)


def dispatch_of(config: pytest.Config) -> RayDispatch | None:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return plugin if isinstance(plugin, RayDispatch) else None
