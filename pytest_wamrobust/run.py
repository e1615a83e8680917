"""What one pytest session evaluates: the suite, the policy spec, the case list, the gates.

Built in `pytest_configure` on the controller and on every xdist worker alike, from
the same options, so all of them agree on the cases without talking to each other.
Everything is validated here, before the first episode.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from .core import gates, registry
from .core.errors import UsageError
from .core.protocols import CaseSelection, Suite
from .core.sharding import stratified_sample
from .core.types import CaseKey
from .options import RunOptions

#: Node id of the synthetic module that holds the generated cases.
NODE_PREFIX = "wamrobust"
EPISODE_TEST = "test_episode"
LATENCY_TEST = "test_latency"

_CASE_ID = re.compile(r"^(?P<suite>[^/]+)/(?P<task>.+)/(?P<axis>[^/]+)/L(?P<level>\d+)/s(?P<seed>\d+)$")


@dataclass
class WamRun:
    options: RunOptions
    suite: Suite
    policy_spec: str
    cases: list[CaseKey]
    thresholds: gates.Thresholds

    @classmethod
    def build(cls, options: RunOptions, rootdir: Path) -> WamRun:
        if not options.policy:
            raise UsageError("--suite needs --policy: a registered name (e.g. scripted), "
                             "module:callable, ws://host:port or lerobot:/path")
        registry.policy_factory(options.policy)
        if options.video not in (None, "none") and importlib.util.find_spec("imageio_ffmpeg") is None:
            raise UsageError("--wam-video needs imageio-ffmpeg (it bundles ffmpeg): "
                             "pip install 'pytest-wamrobust[reports]'")
        suite = registry.make_suite(options.suite or "")
        selection = CaseSelection(tasks=options.tasks, axes=options.axes,
                                  levels=options.levels, seeds=options.seeds)
        cases = list(suite.cases(selection))
        if options.sample is not None:
            cases = stratified_sample(cases, options.sample)
        manifest = getattr(suite, "manifest", None)
        thresholds = gates.resolve_thresholds(
            getattr(manifest, "thresholds", {}) or {}, getattr(manifest, "source", suite.name),
            rootdir, options.thresholds)
        return cls(options, suite, options.policy, cases, thresholds)

    @property
    def policy_label(self) -> str:
        """The id of the latency case: the policy spec, shortened to a readable name."""
        return re.sub(r"[^\w.-]+", "_", self.policy_spec.split(":")[-1].split("/")[-1]) or "policy"


def parse_case_id(text: str) -> CaseKey | None:
    """Inverse of `CaseKey.case_id` (None if `text` is not one)."""
    match = _CASE_ID.match(text)
    if not match:
        return None
    return CaseKey(match["suite"], match["task"], match["axis"], int(match["level"]),
                   int(match["seed"]))


def episode_case_key(nodeid: str) -> CaseKey | None:
    """The case of one of the plugin's own `test_episode[...]` node ids."""
    prefix = f"{NODE_PREFIX}::{EPISODE_TEST}["
    if not nodeid.startswith(prefix) or not nodeid.endswith("]"):
        return None
    return parse_case_id(nodeid[len(prefix):-1])
