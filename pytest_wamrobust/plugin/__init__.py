"""pytest-wamrobust's pytest layer: the `pytest11` entry point. Hooks and wiring only.

The only package that imports pytest (tests/test_layout.py holds the rule). Its modules:
`options` (the command line), `run` (what a session evaluates), `collection` and
`cases` (the generated tests), `episode_fixtures`, `session` (results, verdict, exit
status, JUnit), `terminal` (the table), `baseline_gate` (--wam-baseline), `ray_dispatch`
(--wam-ray).

Installed, the plugin loads in every pytest run of the environment, so this module
imports only the options: everything else (numpy, the suites, the policies) loads
when a run passes --suite, and torch, mujoco and sapien only in the process that runs
an episode.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_wamrobust.plugin import options
from pytest_wamrobust.plugin.episode_fixtures import (  # noqa: F401 - fixtures, registered here
    RUN_KEY,
    episode_result,
    episode_spec,
    policy,
    policy_slot,
    run_episode,
    suite,
    wam_run,
)

if TYPE_CHECKING:
    from pytest_wamrobust.plugin.run import WamRun

CONTROLLER = "wamrobust-controller"
#: Set when a run without -n was given its one isolated xdist worker.
ISOLATED_KEY = pytest.StashKey[bool]()
#: The chunking the policy's start-up check found (None: known once the policy is built).
CHUNKING_KEY = pytest.StashKey[Any]()
#: The SIGTERM handler a --suite run replaced, put back when it ends.
SIGTERM_KEY = pytest.StashKey[Any]()
#: Hypothesis settings profiles for the plugin's users (a rollout outlasts Hypothesis'
#: 200 ms default deadline); prefixed so they never replace a profile of the project.
HYPOTHESIS_PROFILES: dict[str, dict[str, Any]] = {
    "wamrobust-quick": {"max_examples": 10, "deadline": None},
    "wamrobust-ci": {"max_examples": 50, "deadline": None, "derandomize": True,
                     "print_blob": True},
    "wamrobust-full": {"max_examples": 500, "deadline": None},
}


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before xdist turns -n into its workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Without -n, the episodes still play in a child process: one xdist worker. A
    policy that hangs in native code, exits the interpreter or crashes it then costs
    its case (a `worker_crash`, replaced like any xdist worker), never the session and
    its JUnit file. --wam-in-process, --pdb and -p no:xdist play them here instead."""
    if options.plays_in_isolated_worker(config):
        config.option.numprocesses = 1
        config.stash[ISOLATED_KEY] = True


def _isolated(config: pytest.Config) -> bool:
    return config.stash.get(ISOLATED_KEY, False)


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config: pytest.Config) -> None:
    _register_hypothesis_profiles()  # Hypothesis is loaded by its own plugin anyway
    run_options = options.RunOptions.from_config(config)
    if not run_options.suite:
        if config.getoption("wam_policy"):  # an ini default alone may serve other runs
            _check_policy_name(config.getoption("wam_policy"))  # a typo first, then the rest
            raise pytest.UsageError("--policy needs --suite, the suite whose cases to run "
                                    "(e.g. --suite=tabletop, or wamrobust_suite in the ini file)")
        return
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.errors import UsageError
    from pytest_wamrobust.core.model.protocols import PolicyContext
    from pytest_wamrobust.plugin.resume import PLUGIN_NAME as RECORD
    from pytest_wamrobust.plugin.resume import RunRecord
    from pytest_wamrobust.plugin.run import SERVED_NAME, WamRun
    from pytest_wamrobust.plugin.session import Controller

    try:
        run = WamRun.build(run_options, config.rootpath,
                           controller=not hasattr(config, "workerinput"),
                           import_paths=[str(Path.cwd()), *map(str, config.getini("pythonpath"))])
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RUN_KEY] = run
    run.served_name = getattr(config, "workerinput", {}).get(SERVED_NAME, "")
    for line in getattr(run.suite, "quiet_warnings", ()):  # a -W of the user's still wins
        config.addinivalue_line("filterwarnings", line)
    config.stash[SIGTERM_KEY] = _interrupt_on_sigterm()
    _quiet_disabled_benchmark(config)
    if not hasattr(config, "workerinput"):
        try:
            if run.simulator is not None:
                from pytest_wamrobust.plugin import placement

                placement.play_there(config, run.options, run.simulator)
            controller = Controller(run, config)
            if not config.option.collectonly:  # a remote policy must answer before any case
                config.stash[CHUNKING_KEY] = registry.preflight(
                    run.policy_spec,
                    PolicyContext.from_options(run.suite.env_spec, run.options.policy_args))
                run.served_name = getattr(config.stash[CHUNKING_KEY], "served_name", "")
                # the run's identity and log; --wam-resume's files read and checked here
                config.pluginmanager.register(RunRecord(run, config), RECORD)
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.pluginmanager.register(controller, CONTROLLER)
        if run.options.ray:
            _register_ray(config, run)
        elif run.options.ray_policy or run.options.ray_cpus:
            raise pytest.UsageError("--wam-ray-policy and --wam-ray-cpus place work on Ray "
                                    "actors: add --wam-ray (or --wam-ray=ADDRESS)")


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(SIGTERM_KEY, None)
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _interrupt_on_sigterm() -> Any:
    """SIGTERM (what CI runners and schedulers send) ends the run as Ctrl-C does: the
    JUnit file with every case, the unplayed ones as `not_run` errors, exit status 2,
    and xdist's workers torn down. Returns the handler it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("terminated (SIGTERM)")

    return signal.signal(signal.SIGTERM, interrupt)


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = _run(config)
    if run is None:
        return []
    from pytest_wamrobust.plugin import terminal

    lines = terminal.header_lines(run, verbose=config.get_verbosity() > 0)
    if CHUNKING_KEY in config.stash:  # not with --collect-only: no policy was checked
        lines.append(terminal.chunking_line(run, config.stash[CHUNKING_KEY]))
    return lines + _placement_lines(config, run)


def _placement_lines(config: pytest.Config, run: WamRun) -> list[str]:
    """Where the episodes play, when that is not the user's own -n N or --wam-ray."""
    if run.simulator is not None:
        from pytest_wamrobust.plugin import placement

        return placement.placement_lines(run.simulator, config.getoption("numprocesses"))
    if _isolated(config):
        return ["wamrobust: episodes play in one isolated worker process (no -n given; "
                "--wam-in-process plays them here)"]
    if run.options.ray or config.getoption("numprocesses", None):
        return []
    return ["wamrobust: episodes play in this pytest process: a policy that hangs in native "
            "code or ends the process ends the run (a run without -n plays here only with "
            "--wam-in-process, --pdb, -p no:xdist or pytest-benchmark's --benchmark-json, "
            "-save, -only or -enable)"]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    report = yield
    run = _run(collector.config)
    if run is not None and isinstance(collector, pytest.Session) and report.passed:
        from pytest_wamrobust.plugin import collection

        if collection.only_generated(collector.config):
            report.result.clear()
        report.result.append(collection.cases_module(collector))
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = _run(config)
    if run is not None and run.options.shard is not None:
        from pytest_wamrobust.plugin import collection

        items[:] = collection.keep_shard(config, items, run.options.shard)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = _run(metafunc.config)
    if run is not None:
        from pytest_wamrobust.plugin import collection

        collection.parametrize(metafunc, run)


def _register_ray(config: pytest.Config, run: WamRun) -> None:
    if config.getoption("numprocesses", None):
        raise pytest.UsageError("--wam-ray and -n both spread the episodes over processes; "
                                "use one of them (Ray's actors take --wam-ray-cpus each)")
    from pytest_wamrobust.plugin.ray_dispatch import PLUGIN_NAME, RayDispatch

    config.pluginmanager.register(RayDispatch(run), PLUGIN_NAME)


def _run(config: pytest.Config) -> WamRun | None:
    return config.stash.get(RUN_KEY, None)


def _check_policy_name(spec: str) -> None:
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.errors import UsageError

    try:
        registry.policy_factory(spec)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def _quiet_disabled_benchmark(config: pytest.Config) -> None:
    """Under xdist pytest-benchmark disables itself and warns once per process; the
    latency case already says why it is skipped, so disable it quietly instead."""
    distributed = config.getoption("dist", "no") != "no" or hasattr(config, "workerinput")
    if distributed and not config.getoption("benchmark_enable", False):
        config.option.benchmark_disable = True


def _register_hypothesis_profiles() -> None:
    """Register ours, leaving any profile of the same name the project registered."""
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument

    for name, values in HYPOTHESIS_PROFILES.items():
        try:
            settings.get_profile(name)
        except InvalidArgument:  # not registered yet
            settings.register_profile(name, **values)
