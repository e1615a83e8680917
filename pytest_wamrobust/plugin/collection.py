"""Put the generated cases into the session without a user test file.

The module `pytest_wamrobust.plugin.cases` is collected as a regular pytest Module under the
node id `wamrobust`, so its tests get fixtures, marks, `-k`, xdist and JUnit like any
other; `pytest_generate_tests` parametrizes it from the case list, which is computed
the same way in every process (nothing random at collection).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from pytest_wamrobust.core.cases.sharding import Shard, split_items
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.plugin.run import WamRun
from pytest_wamrobust.records.node_ids import (
    LATENCY_TEST,
    NODE_PREFIX,
    SEARCH_TEST,
    latency_case_id,
)

CASES_MODULE = "pytest_wamrobust.plugin.cases"


class WamModule(pytest.Module):
    """The cases module, imported by name (not by path) wherever the package lives."""

    def _getobj(self) -> ModuleType:
        return importlib.import_module(CASES_MODULE)

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        """`test_search` exists only in a run with --wam-search."""
        from pytest_wamrobust.plugin.episode_fixtures import RUN_KEY

        nodes = list(super().collect())
        run = self.config.stash.get(RUN_KEY, None)
        if run is not None and run.searches:
            return nodes
        return [n for n in nodes if getattr(n, "originalname", n.name) != SEARCH_TEST]


def cases_module(session: pytest.Session) -> WamModule:
    spec = importlib.util.find_spec(CASES_MODULE)
    assert spec is not None and spec.origin is not None  # our own module, a file
    path = Path(spec.origin)
    return WamModule.from_parent(session, path=path, nodeid=NODE_PREFIX)


def only_generated(config: pytest.Config) -> bool:
    """Without explicit paths, `--suite` runs just its cases, not the project's tests."""
    return config.args_source != pytest.Config.ArgsSource.ARGS


def parametrize(metafunc: pytest.Metafunc, run: WamRun) -> None:
    """Every test asking for `episode_spec` runs once per case, id = the case id."""
    if "episode_spec" in metafunc.fixturenames:
        metafunc.parametrize("episode_spec", run.cases, indirect=True,
                             ids=[key.case_id for key in run.cases])
    if metafunc.definition.name == LATENCY_TEST and metafunc.module.__name__ == CASES_MODULE:
        metafunc.parametrize("policy_name", [run.policy_short_name],
                             ids=[latency_case_id(run.policy_short_name)])
    if metafunc.definition.name == SEARCH_TEST and metafunc.module.__name__ == CASES_MODULE:
        metafunc.parametrize("search_result", run.searches or [None], indirect=True,
                             ids=[key.case_id for key in run.searches] or ["none"])


def keep_shard(config: pytest.Config, items: list[pytest.Item], shard: Shard) -> list[pytest.Item]:
    """The items of `shard`; the others are reported as deselected, as `-k` does.
    A user's own tests over `episode_spec` are split with the generated cases."""
    kept, deselected = split_items(items, case_of, shard)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    return kept


def case_of(item: pytest.Item) -> CaseKey | None:
    """The case an item is parametrized with (None for the latency case, other tests)."""
    callspec = getattr(item, "callspec", None)
    key = callspec.params.get("episode_spec") if callspec is not None else None
    return key if isinstance(key, CaseKey) else None
