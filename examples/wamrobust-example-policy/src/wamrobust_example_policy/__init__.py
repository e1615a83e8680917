"""A proprioceptive policy shipped by a third party: lower the hand, then close it.

It reads only `Observation.state` (eef position first, as the built-in suites lay it
out), so it runs on any suite with a delta-eef action and a -1-open gripper.
"""

from __future__ import annotations

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import EnvSpec, Observation, PolicyMetadata

CHUNK = 4


class ReachDown:
    def __init__(self, env_spec: EnvSpec, depth: float) -> None:
        self.metadata = PolicyMetadata("reach-down", chunk_length=CHUNK, replan_steps=CHUNK,
                                       family="baseline")
        self._action_dim = env_spec.action_dim
        self._depth = depth
        self._start_z = 0.0

    def reset(self, task: str, seed: int) -> None:
        self._start_z = float("nan")

    def infer(self, observation: Observation) -> np.ndarray:
        z = float(observation.state[2])
        if np.isnan(self._start_z):
            self._start_z = z
        lowered = self._start_z - z >= self._depth
        chunk = np.zeros((CHUNK, self._action_dim))
        chunk[:, 2] = 0.0 if lowered else -0.5
        chunk[:, -1] = 1.0 if lowered else -1.0
        return chunk


def make_policy(ctx: PolicyContext) -> ReachDown:
    if ctx.env_spec.action_dim < 4:
        raise UsageError(f"reach-down needs delta-eef actions; suite {ctx.env_spec.suite!r} has "
                         f"{ctx.env_spec.action_dim}-dim actions")
    try:
        depth = float(ctx.options.get("depth", 0.1))
    except ValueError:
        raise UsageError("--policy-arg depth must be metres, e.g. depth=0.1") from None
    return ReachDown(ctx.env_spec, depth)
