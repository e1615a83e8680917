"""The four small contracts a third party implements: Policy, BatchPolicy (a Policy
whose one model serves many episodes at once; optional), Env and Suite.

A policy or a suite registers a factory under the entry point groups
`pytest_wamrobust.policies` / `pytest_wamrobust.suites`; nothing in the core needs to
change to add one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, overload, runtime_checkable

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import (
    CaseKey,
    EnvSpec,
    EpisodeSpec,
    Observation,
    PolicyMetadata,
    TaskSpec,
)


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
class BatchPolicy(Policy, Protocol):
    """A policy one model instance of which serves many episodes at once (optional).

    Everything `reset` would set (a seeded noise generator, observation history,
    recurrent state) lives in the object `new_episode` returns, which the caller owns;
    the model keeps none, so one instance serves every connection or worker without
    their episodes touching (LeRobot issue 4341: parallel tasks sharing one policy's
    state dropped success from 72.5% to 0%). `infer_batch` is one forward pass over the
    batch and row i equals what `reset` + `infer` give that episode alone, so a case has
    the same outcome batched or not. When it raises it must leave the episodes as they
    were (a failed batch is re-run one request at a time). `EpisodeInOne` supplies
    `reset`/`infer` on top of the two.
    """

    def new_episode(self, task: str, seed: int) -> Any:
        """The state of a fresh episode of `task` (a server's connection starts with
        `new_episode("", 0)`, as a freshly built policy)."""

    def infer_batch(self, observations: Sequence[Observation],
                    episodes: Sequence[Any]) -> list[np.ndarray]:
        """One action chunk per (observation, episode), advancing each episode's state."""


class EpisodeInOne:
    """`reset`/`infer` of a BatchPolicy used one episode at a time (in-process runs): the
    episode's state is this object's, and `infer` is a batch of one."""

    _episode: Any = None

    def new_episode(self, task: str, seed: int) -> Any:
        raise NotImplementedError

    def infer_batch(self, observations: Sequence[Observation],
                    episodes: Sequence[Any]) -> list[np.ndarray]:
        raise NotImplementedError

    def reset(self, task: str, seed: int) -> None:
        self._episode = self.new_episode(task, seed)

    def infer(self, observation: Observation) -> np.ndarray:
        if self._episode is None:
            self._episode = self.new_episode("", 0)
        return self.infer_batch([observation], [self._episode])[0]


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
    """Which cases of a suite to run; None means the suite's default. `settings` are
    clean and any of the seven axes (`--axes`)."""

    tasks: Sequence[str] | None = None
    settings: Sequence[str] | None = None
    levels: Sequence[int] | None = None
    seeds: int | None = None

    @property
    def axes(self) -> Sequence[str] | None:
        """Its earlier name (it held clean too): a third-party suite that reads it
        keeps working, with a warning naming the new one."""
        warnings.warn("CaseSelection.axes is now CaseSelection.settings (clean and the "
                      "seven axes)", DeprecationWarning, stacklevel=2)
        return self.settings


@runtime_checkable
class Suite(Protocol):
    """A set of tasks plus how to build a perturbed scene for any case of it."""

    name: str
    env_spec: EnvSpec

    def tasks(self) -> Sequence[TaskSpec]:
        """All tasks, in a stable order."""

    def cases(self, selection: CaseSelection) -> Iterable[CaseKey]:
        """The case matrix, in a stable order (every xdist worker must agree).

        A suite may also offer `case_count(selection) -> int`, the same count without
        listing, so an oversized selection is refused before it fills memory."""

    def episode_spec(self, key: CaseKey) -> EpisodeSpec:
        """Draw the case's perturbation parameters, deterministically from the key."""

    def make_env(self, spec: EpisodeSpec) -> Env:
        """Build the perturbed scene; called inside the process that runs it."""


@dataclass(frozen=True)
class PolicyContext:
    """What a policy factory is told: the suite's interface and user options.

    `options` come from `--policy-arg KEY=VALUE` (repeatable) and the ini file;
    `device` (torch device for in-process models) from `--policy-arg device=cuda:0`.
    Read options with the typed accessors (`text`, `integer`, `number`, `seconds`,
    `torch_device`): a bad value is then one UsageError worded like every other,
    "--policy-arg NAME=VALUE must be ...".
    """

    env_spec: EnvSpec
    options: Mapping[str, str] = field(default_factory=dict)
    device: str = "cpu"

    @classmethod
    def from_options(cls, env_spec: EnvSpec, options: Mapping[str, str]) -> PolicyContext:
        """A run's context: `device` is one of the options, cpu unless given."""
        return cls(env_spec, dict(options), options.get("device", "cpu"))

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    @overload
    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int: ...
    @overload
    def integer(self, name: str, default: None, *,
                minimum: int | None = None) -> int | None: ...
    def integer(self, name: str, default: int | None, *,
                minimum: int | None = None) -> int | None:
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        return self._parsed(name, default, int, what,
                            lambda v: minimum is None or v >= minimum)

    @overload
    def number(self, name: str, default: float, *, minimum: float | None = None) -> float: ...
    @overload
    def number(self, name: str, default: None, *,
               minimum: float | None = None) -> float | None: ...
    def number(self, name: str, default: float | None, *,
               minimum: float | None = None) -> float | None:
        what = "a number" if minimum is None else f"a number >= {minimum:g}"
        return self._parsed(name, default, float, what,
                            lambda v: math.isfinite(v) and (minimum is None or v >= minimum))

    def seconds(self, name: str, default: float) -> float:
        return self._parsed(name, default, float, "a positive number of seconds",
                            lambda v: math.isfinite(v) and v > 0)

    def torch_device(self) -> str:
        """`device`, checked to exist on this machine (torch is imported only for a
        device other than cpu): a missing GPU is one line, not a CUDA error per case."""
        if self.device == "cpu":
            return self.device
        import torch

        try:
            device = torch.device(self.device)
        except (RuntimeError, ValueError):
            raise UsageError(f"--policy-arg device={self.device} must be a torch device, "
                             f"e.g. cpu, cuda or cuda:0") from None
        backend = getattr(torch, device.type, None)
        available = getattr(backend, "is_available", None)
        if callable(available) and not available():
            raise UsageError(f"device {self.device} is not available (torch.{device.type}"
                             f".is_available() is False); use --policy-arg device=cpu")
        count = getattr(backend, "device_count", None)
        if device.index is not None and callable(count) and device.index >= count():
            raise UsageError(f"device {self.device} is not available (torch.{device.type}"
                             f".device_count() is {count()}); use --policy-arg "
                             f"device={device.type}:0")
        return self.device

    def _parsed(self, name: str, default: Any, parse: Callable[[str], Any], what: str,
                accept: Callable[[Any], bool]) -> Any:
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            value = parse(str(raw).strip())
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise UsageError(f"--policy-arg {name}={raw} must be {what}")
        return value


PolicyFactory = Callable[[PolicyContext], Policy]
