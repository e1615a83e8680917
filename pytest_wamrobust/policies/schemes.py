"""The `--policy` schemes this package ships: `ws://HOST:PORT` / `wss://` (an openpi
policy server) and `lerobot:PATH` (a LeRobot checkpoint folder).

They register under the `pytest_wamrobust.policy_schemes` entry point group like a third
party's scheme would, so the core's registry names no module of `policies/`. A scheme
turns the whole `--policy` text into a policy factory; it may check what it can without
a network or a heavy import (the checkpoint folder), and its adapter is imported only
when the scheme is chosen.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pytest_wamrobust.core.model.identity import fingerprinted
from pytest_wamrobust.core.model.protocols import PolicyContext, PolicyFactory


def websocket(spec: str) -> PolicyFactory:
    """`ws://HOST:PORT`: the openpi client, checked against the server at start-up
    through the factory's `preflight(ctx)`."""
    from pytest_wamrobust.policies import remote
    from pytest_wamrobust.policies.openpi import client

    factory = bound(remote.connect_policy, spec)
    factory.preflight = functools.partial(client.preflight, spec)  # type: ignore[attr-defined]
    return fingerprinted(functools.partial(client.server_fingerprint, spec))(factory)


def lerobot(spec: str) -> PolicyFactory:
    """`lerobot:PATH`: the folder is checked now, its config.json's chunking at start-up
    (`preflight`), and LeRobot is imported when the policy is built (in the process that
    plays episodes)."""
    from pytest_wamrobust.policies import lerobot as adapter

    path = spec.partition(":")[2]
    adapter.checkpoint_dir(path)
    factory = bound(adapter.load_lerobot_policy, path)
    factory.preflight = functools.partial(adapter.preflight, path)  # type: ignore[attr-defined]
    return fingerprinted(functools.partial(adapter.fingerprint, path))(factory)


def bound(adapter: Callable[..., Any], target: str) -> PolicyFactory:
    """`adapter(target, ctx)` as a factory of ctx alone, keeping what the adapter
    declares (its --policy-arg keys)."""

    @functools.wraps(adapter)
    def factory(ctx: PolicyContext) -> Any:
        return adapter(target, ctx)

    return factory
