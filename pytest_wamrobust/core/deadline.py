"""A deadline on each `policy.infer` call, so a policy that never returns ends one episode
as an error instead of hanging the whole run (and CI) with no report at all.

Python cannot kill a thread, so the call runs on a helper thread and the episode stops
waiting for it at the deadline. The abandoned call may still be running, holding
whatever state the policy instance had: the caller must not use that instance again
(the plugin builds a fresh one, see `PolicySlot`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from pytest_wamrobust.core.errors import EpisodeError

#: Default of --wam-infer-timeout: far above any healthy model's chunk (the study's
#: slowest, LingBot-VA, takes 5.2 s per chunk on a GPU), far below a CI job's limit.
DEFAULT_INFER_TIMEOUT_S = 120.0

T = TypeVar("T")


class InferTimeout(EpisodeError):
    """The policy did not return a chunk in time; its instance is now unusable."""

    KIND = "policy_timeout"

    def __init__(self, policy: str, timeout_s: float) -> None:
        super().__init__(self.KIND,
                         f"policy {policy!r} did not return a chunk within {timeout_s:g} s "
                         f"(raise --wam-infer-timeout if it is just slow)")


def call_with_deadline(function: Callable[[], T], timeout_s: float | None, policy: str) -> T:
    """`function()` or InferTimeout after `timeout_s` (None: no deadline, a direct call)."""
    if timeout_s is None:
        return function()
    outcome: list = []

    def target() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name=f"wamrobust-infer-{policy}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise InferTimeout(policy, timeout_s)
    returned, value = outcome[0]
    if returned:
        return value
    raise value
