"""pytest-wamrobust: the pytest11 entry point. Options, wiring and hooks only.

The work lives in small modules: `options` (parsing), `run` (what this session
evaluates), `collection` (generated cases), `fixtures`, `controller` (results, gates,
exit status), `terminal` and `junit` (output). Heavy libraries (torch, mujoco, sapien)
are imported by suites and policies inside the process that runs episodes, never here.
"""

from __future__ import annotations

import pytest

from pytest_wamrobust.core import registry
from pytest_wamrobust.core.errors import UsageError
from pytest_wamrobust.core.protocols import PolicyContext
from pytest_wamrobust.plugin import collection, options, terminal
from pytest_wamrobust.plugin.episode_fixtures import (  # noqa: F401
    RUN_KEY,
    episode_result,
    episode_spec,
    policy,
    policy_slot,
    run_episode,
    suite,
    wam_run,
)
from pytest_wamrobust.plugin.run import WamRun
from pytest_wamrobust.plugin.session import Controller

CONTROLLER = "wamrobust-controller"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config: pytest.Config) -> None:
    _register_hypothesis_profiles()
    run_options = options.RunOptions.from_config(config)
    if not run_options.suite:
        if run_options.policy and not hasattr(config, "workerinput"):
            _check_policy_name(run_options.policy)
        if config.getoption("wam_policy"):  # an ini default alone may serve other runs
            raise pytest.UsageError("--policy needs --suite, the suite whose cases to run "
                                    "(e.g. --suite=tabletop, or wamrobust_suite in the ini file)")
        return
    try:
        run = WamRun.build(run_options, config.rootpath)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RUN_KEY] = run
    _quiet_disabled_benchmark(config)
    if not hasattr(config, "workerinput"):
        try:
            controller = Controller(run, config)
            if not config.option.collectonly:  # a remote policy must answer before any case
                args = dict(run.options.policy_args)
                registry.preflight(run.policy_spec, PolicyContext(
                    env_spec=run.suite.env_spec, options=args, device=args.get("device", "cpu")))
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.pluginmanager.register(controller, CONTROLLER)


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return []
    return terminal.header_lines(run)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    run = collector.config.stash.get(RUN_KEY, None)
    if run is not None and isinstance(collector, pytest.Session) and report.passed:
        if collection.only_generated(collector.config):
            report.result.clear()
        report.result.append(collection.cases_module(collector))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None and run.options.shard is not None:
        items[:] = collection.keep_shard(config, items, run.options.shard)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = metafunc.config.stash.get(RUN_KEY, None)
    if run is not None:
        collection.parametrize(metafunc, run)


def _quiet_disabled_benchmark(config: pytest.Config) -> None:
    """Under xdist pytest-benchmark disables itself and warns once per process; the
    latency case already says why it is skipped, so disable it quietly instead."""
    distributed = config.getoption("dist", "no") != "no" or hasattr(config, "workerinput")
    if distributed and not config.getoption("benchmark_enable", False):
        config.option.benchmark_disable = True


def _check_policy_name(spec: str) -> None:
    """Fail fast on a typo even when the user's own tests build the suite."""
    try:
        registry.policy_factory(spec)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def _register_hypothesis_profiles() -> None:
    """Hypothesis' default 200 ms deadline is shorter than one rollout."""
    from hypothesis import settings

    settings.register_profile("quick", max_examples=10, deadline=None)
    settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True,
                              print_blob=True)
    settings.register_profile("full", max_examples=500, deadline=None)
