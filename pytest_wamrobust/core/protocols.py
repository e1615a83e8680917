"""The three small contracts a third party implements: Policy, Env and Suite.

A policy or a suite registers a factory under the entry point groups
`pytest_wamrobust.policies` / `pytest_wamrobust.suites`; nothing in the core needs to
change to add one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .types import CaseKey, EnvSpec, EpisodeSpec, Observation, PolicyMetadata, TaskSpec


@runtime_checkable
class Policy(Protocol):
    """Maps observations to chunks of actions.

    `infer` returns an array of shape (chunk_length, env_spec.action_dim) with values in
    [-1, 1]; the runner validates it (shape, finiteness) and times every call.
    """

    metadata: PolicyMetadata

    def reset(self, task: str, seed: int) -> None:
        """Start a new episode of `task`; seed any sampling the policy does."""

    def infer(self, observation: Observation) -> np.ndarray:
        """Return the next action chunk."""


@runtime_checkable
class Env(Protocol):
    """One perturbed scene, built once per EpisodeSpec.

    Unlike Gymnasium, stepping and observing are separate so the runner renders only
    when the policy will look (every `replan_steps` actions), which dominates speed.
    """

    spec: EnvSpec

    def reset(self) -> Observation:
        """Put the scene in the episode's initial state (deterministic per spec)."""

    def step(self, action: np.ndarray) -> None:
        """Apply one normalised action for one control period."""

    def observe(self) -> Observation:
        """Render the cameras and read the state now."""

    def success(self) -> bool:
        """Whether the task's goal predicate holds in the current sim state."""

    def close(self) -> None:
        """Release renderers and simulator memory."""


@dataclass(frozen=True)
class CaseSelection:
    """Which cases of a suite to run; None means the suite's default."""

    tasks: Sequence[str] | None = None
    axes: Sequence[str] | None = None
    levels: Sequence[int] | None = None
    seeds: int | None = None


@runtime_checkable
class Suite(Protocol):
    """A set of tasks plus how to build a perturbed scene for any case of it."""

    name: str
    env_spec: EnvSpec

    def tasks(self) -> Sequence[TaskSpec]:
        """All tasks, in a stable order."""

    def cases(self, selection: CaseSelection) -> Iterable[CaseKey]:
        """The case matrix, in a stable order (every xdist worker must agree)."""

    def episode_spec(self, key: CaseKey) -> EpisodeSpec:
        """Draw the case's perturbation parameters, deterministically from the key."""

    def make_env(self, spec: EpisodeSpec) -> Env:
        """Build the perturbed scene; called inside the process that runs it."""


@dataclass(frozen=True)
class PolicyContext:
    """What a policy factory is told: the suite's interface and user options.

    `options` come from `--policy-arg KEY=VALUE` (repeatable) and the ini file;
    `device` (torch device for in-process models) from `--policy-arg device=cuda:0`.
    """

    env_spec: EnvSpec
    options: Mapping[str, str] = field(default_factory=dict)
    device: str = "cpu"


PolicyFactory = Callable[[PolicyContext], Policy]
SuiteFactory = Callable[[], Suite]
