"""The names of the tests `--suite` generates, and their parsers, in one place.

`wamrobust::test_episode[tabletop/pick_cube/camera/L3/s07]`, `wamrobust::test_latency[scripted]`
and `wamrobust::test_search[tabletop/pick_cube/light]`: the plugin generates these node ids
and reads its own cases back from them, and a merged JUnit file names its episodes the
same way, so a case keeps its name from the terminal to a user's baseline file.

Here in records/ rather than in the plugin: it is the lowest layer every reader may
import (records/ may not import the plugin, and the core knows nothing of pytest).
"""

from __future__ import annotations

import re

from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.search.breaking_point import SearchKey

#: Node id of the synthetic module that holds the generated tests.
NODE_PREFIX = "wamrobust"
EPISODE_TEST = "test_episode"
LATENCY_TEST = "test_latency"
SEARCH_TEST = "test_search"


def case_name(test: str, case_id: str) -> str:
    """A generated test's name, as JUnit's test case carries it: `test_episode[<case id>]`."""
    return f"{test}[{case_id}]"


def latency_case_id(policy_name: str) -> str:
    """The id of the latency case: the policy's name, readable in a node id."""
    return re.sub(r"[^\w.-]+", "_", policy_name) or "policy"


def short_policy_name(policy_spec: str) -> str:
    """A `--policy` value as a readable name, where the policy has not named itself:
    `ckpt` of lerobot:/runs/ckpt, `make` of module:make, `127.0.0.1_8000` of
    ws://127.0.0.1:8000 (a server's address, not just its port)."""
    scheme, sep, rest = policy_spec.partition("://")
    if sep and scheme.isalpha():
        return latency_case_id(rest.rstrip("/"))
    return latency_case_id(policy_spec.split(":")[-1].split("/")[-1])


def episode_case_key(nodeid: str) -> CaseKey | None:
    """The case of one of the plugin's own `test_episode[...]` node ids."""
    case_id = _case_id(nodeid, EPISODE_TEST)
    return None if case_id is None else CaseKey.parse(case_id)


def search_case_key(nodeid: str) -> SearchKey | None:
    """The (suite, task, axis) of one of the plugin's own `test_search[...]` node ids."""
    case_id = _case_id(nodeid, SEARCH_TEST)
    return None if case_id is None else SearchKey.parse(case_id)


def _case_id(nodeid: str, test: str) -> str | None:
    prefix = f"{NODE_PREFIX}::{test}["
    if not nodeid.startswith(prefix) or not nodeid.endswith("]"):
        return None
    return nodeid[len(prefix):-1]
