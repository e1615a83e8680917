"""Floor baselines: what a policy that ignores its observation scores.

`random` acts uniformly in [-1, 1] and `noop` holds still with the gripper open; a
suite whose clean row they pass is too easy. `random` is seeded by `reset`, so the
same case gives the same actions on any worker.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from pytest_wamrobust.core.cases.seeding import rng_for
from pytest_wamrobust.core.model import policy_args
from pytest_wamrobust.core.model.chunking import Chunking, check_replanning
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import EnvSpec, Observation, PolicyMetadata

#: Gripper convention of the suites: the last action dimension, -1 = open.
GRIPPER_OPEN = -1.0


#: Chunking is a property of the model being imitated; default 8 executed in full.
CHUNK_LENGTH = policy_args.integer("chunk_length", 8)
REPLAN_STEPS = policy_args.integer("replan_steps")


def _chunk_options(name: str, ctx: PolicyContext) -> tuple[int, int]:
    chunk = CHUNK_LENGTH.read(ctx)
    replan = REPLAN_STEPS.read(ctx) or chunk
    check_replanning(replan, chunk, f"policy {name!r}")
    return chunk, replan


def _chunking(name: str, ctx: PolicyContext) -> Chunking:
    """The registry's start-up check: a baseline's chunking, refused or known before any
    episode."""
    return Chunking.of(*_chunk_options(name, ctx), ctx.options)


class RandomPolicy:
    """Uniform random actions, reproducible from the episode seed."""

    def __init__(self, env_spec: EnvSpec, chunk_length: int = 8, replan_steps: int = 8) -> None:
        self.metadata = PolicyMetadata("random", chunk_length, replan_steps, family="baseline")
        self._action_dim = env_spec.action_dim
        self._rng = rng_for(0)

    def reset(self, task: str, seed: int) -> None:
        self._rng = rng_for(seed)

    def infer(self, observation: Observation) -> np.ndarray:
        shape = (self.metadata.chunk_length, self._action_dim)
        return self._rng.uniform(-1.0, 1.0, size=shape)


class NoopPolicy:
    """Zero motion, gripper open."""

    def __init__(self, env_spec: EnvSpec, chunk_length: int = 8, replan_steps: int = 8) -> None:
        self.metadata = PolicyMetadata("noop", chunk_length, replan_steps, family="baseline")
        self._chunk = np.zeros((chunk_length, env_spec.action_dim))
        self._chunk[:, -1] = GRIPPER_OPEN

    def reset(self, task: str, seed: int) -> None:
        """Stateless: every episode is the same."""

    def infer(self, observation: Observation) -> np.ndarray:
        return self._chunk.copy()


@policy_args.declare(CHUNK_LENGTH, REPLAN_STEPS)
def make_random_policy(ctx: PolicyContext) -> RandomPolicy:
    return RandomPolicy(ctx.env_spec, *_chunk_options("random", ctx))


@policy_args.declare(CHUNK_LENGTH, REPLAN_STEPS)
def make_noop_policy(ctx: PolicyContext) -> NoopPolicy:
    return NoopPolicy(ctx.env_spec, *_chunk_options("noop", ctx))


make_random_policy.preflight = partial(_chunking, "random")  # type: ignore[attr-defined]
make_noop_policy.preflight = partial(_chunking, "noop")  # type: ignore[attr-defined]
