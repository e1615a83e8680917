"""What one pytest session evaluates: the suite, the policy spec, the case list, the gates.

Built in `pytest_configure` on the controller and on every xdist worker alike, from
the same options, so all of them agree on the cases without talking to each other.
Everything is validated here, before the first episode.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_wamrobust.core.cases.sharding import stratified_sample
from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.judging.sequential import play_order
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext, Suite
from pytest_wamrobust.core.model.types import CaseKey, EpisodeSpec
from pytest_wamrobust.core.running.interpreters import SimulatorPython
from pytest_wamrobust.core.search.breaking_point import SearchKey, search_keys
from pytest_wamrobust.core.search.replay import case_spec, replay_specs
from pytest_wamrobust.plugin.options import DEFAULT_ARTIFACTS, RunOptions
from pytest_wamrobust.plugin.placement import simulator_python
from pytest_wamrobust.records.node_ids import short_policy_name
from pytest_wamrobust.records.video import check_artifacts_dir

#: The most cases one session lists: a larger matrix would take minutes and gigabytes
#: to collect, and sharding or sampling it still lists it whole first.
MAX_CASES = 1_000_000
#: workerinput key of the served policy's name (WamRun.served_name).
SERVED_NAME = "wamrobust_served_name"



@dataclass
class WamRun:
    options: RunOptions
    suite: Suite
    policy_spec: str
    cases: list[CaseKey]
    thresholds: gates.Thresholds
    #: the (task, axis) pairs --wam-search explores, one `test_search` case each
    searches: list[SearchKey] = field(default_factory=list)
    #: --wam-replay: the stored failures, case -> its exact episode (core.search.replay)
    replays: dict[CaseKey, EpisodeSpec] = field(default_factory=dict)
    #: the Python that plays the episodes when it is not this one (plugin/placement.py)
    simulator: SimulatorPython | None = None
    #: the name a policy server gives the policy it serves, learned by the controller's
    #: preflight and handed to the workers (SERVED_NAME) before they collect
    served_name: str = ""

    @classmethod
    def build(cls, options: RunOptions, rootdir: Path, *, controller: bool = True,
              import_paths: Sequence[str] = ()) -> WamRun:
        """`controller`: this process places the episodes (not an xdist worker);
        `import_paths`: what a worker puts first on sys.path (placement.py)."""
        if not options.policy:
            raise UsageError("--suite needs --policy: a registered name (e.g. scripted), "
                             "module:callable, ws://host:port or lerobot:/path")
        factory = registry.policy_factory(options.policy)
        if options.video not in (None, "none"):
            if importlib.util.find_spec("imageio_ffmpeg") is None:
                raise UsageError("--wam-video needs imageio-ffmpeg (it bundles ffmpeg): "
                                 "pip install 'pytest-wamrobust[reports]'")
            check_artifacts_dir(options.artifacts or DEFAULT_ARTIFACTS)
        suite = registry.make_suite(options.suite or "", options.suite_args)
        simulator = (simulator_python(suite, options, rootdir, import_paths)
                     if controller else None)
        registry.check_policy_args(options.policy, factory,
                                   PolicyContext.from_options(suite.env_spec, options.policy_args))
        selection = CaseSelection(tasks=options.tasks, settings=options.settings,
                                  levels=options.levels, seeds=options.seeds)
        replays = (replay_specs(suite, selection, options.examples_dir)
                   if options.replay else {})
        cases = list(replays) if replays else list_cases(suite, selection)
        if options.sample is not None:
            cases = stratified_sample(cases, options.sample)
        manifest = getattr(suite, "manifest", None)
        thresholds = gates.resolve_thresholds(
            getattr(manifest, "thresholds", {}) or {}, getattr(manifest, "source", suite.name),
            rootdir, options.thresholds)
        gates.check_judgeable(gates.resolve_thresholds({}, "", rootdir, options.thresholds),
                              {case.setting for case in cases})
        if options.decide:
            check_early_verdicts(options, thresholds)
            cases = play_order(cases)
        searches = (search_keys(suite, selection, options.examples_dir) if options.search
                    else [])
        return cls(options, suite, options.policy, cases, thresholds, searches, replays,
                   simulator)

    def spec(self, key: CaseKey) -> EpisodeSpec:
        """The episode of one of this run's cases (a replay's stored one)."""
        return case_spec(self.suite, key, self.replays)

    @property
    def policy_short_name(self) -> str:
        """The served policy's own name, else the policy spec shortened to a readable
        name: the latency case's policy, and that of a case whose policy never reported
        its own name."""
        return self.served_name or short_policy_name(self.policy_spec)


def check_early_verdicts(options: RunOptions, thresholds: gates.Thresholds) -> None:
    """--wam-decide needs rate gates to decide, and runs only where the session sees every
    case of the population in play order (one line otherwise, before any episode)."""
    if not thresholds.rates:
        raise UsageError("--wam-decide stops the run once every rate gate is decided, and "
                         "this run has none: set rates in the gates (e.g. clean = 0.8 under "
                         "[tool.wamrobust.thresholds] or in --wam-thresholds FILE)")
    refused = {"--wam-shard": (options.shard is not None,
                               "a shard sees only its part of each gate's population"),
               "--wam-baseline": (bool(options.baseline),
                                  "the paired comparison is judged on the full run only"),
               "--wam-replay": (bool(options.replay),
                                "stored failures are not a sample of the case matrix")}
    for flag, (given, why) in refused.items():
        if given:
            raise UsageError(f"--wam-decide cannot be used with {flag}: {why}; drop one of them")


def list_cases(suite: Suite, selection: CaseSelection) -> list[CaseKey]:
    """The selection's cases, refused in one line beyond MAX_CASES: counted without
    listing where the suite can (`case_count`), else listed no further than the limit."""
    count = getattr(suite, "case_count", None)
    total = count(selection) if callable(count) else None
    if total is not None and total > MAX_CASES:
        size = f"{total:,} cases (tasks x settings x levels x seeds)"
    else:
        cases = list(itertools.islice(suite.cases(selection), MAX_CASES + 1))
        if len(cases) <= MAX_CASES:
            return cases
        size = f"more than {MAX_CASES:,} cases"
    raise UsageError(f"--suite={suite.name} selects {size}, more than the {MAX_CASES:,} one "
                     f"session lists (MAX_CASES); narrow --tasks, --axes, --levels or --seeds")

