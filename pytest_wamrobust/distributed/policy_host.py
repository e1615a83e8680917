"""`--wam-ray-policy=shared`: one policy instance per GPU, batched, for every simulator actor.

`PolicyHost` is the Ray actor that holds the model: its `infer` calls arrive from many
simulator actors at once (a threaded actor) and a `core.running.batcher.Batcher` runs them as
one `infer_batch`. Each episode's state (what `reset` would set) is an object the host
keeps per episode id, never in the model (LeRobot issue 4341). `SharedPolicy` is what a
simulator actor holds instead of a model: the Policy protocol, forwarded to its host.
A BatchPolicy's rows equal its solo calls, so a case's outcome is the same as with a
policy per actor.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import BatchPolicy, PolicyContext
from pytest_wamrobust.core.model.types import Observation, PolicyMetadata
from pytest_wamrobust.distributed.episodes import EpisodeJob

#: How long the host waits for more requests before running a batch that is not full
#: (a full one, every simulator actor waiting, runs at once).
BATCH_WAIT_MS = 5.0
#: Concurrent calls the host actor accepts: every simulator actor's, with room to spare.
MAX_CONCURRENT_CALLS = 1024


class PolicyHost:
    """The shared model, its episodes, and the batcher in front of it. A policy that
    cannot be built or shared does not fail the actor (Ray would bury the reason in
    its own error): `ready()` returns the one line."""

    def __init__(self, job: EpisodeJob, callers: int) -> None:
        from pytest_wamrobust.core.running.batcher import Batcher

        self.name = f"{socket.gethostname()} pid {os.getpid()}"
        self.problem = ""
        try:
            self.policy = _build_batch_policy(job)
        except UsageError as exc:
            self.problem = str(exc)
        self.episodes: dict[int, Any] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self.batcher: Batcher[tuple[Observation, int], np.ndarray] = Batcher(
            self._run_batch, max_batch=max(1, callers), wait_ms=BATCH_WAIT_MS,
            name="wamrobust-policy-host")
        self._callers = contextlib.ExitStack()
        for _ in range(max(1, callers)):  # a full batch need not wait out BATCH_WAIT_MS
            self._callers.enter_context(self.batcher.caller())

    def ready(self) -> tuple[str, str]:
        """(where it runs, why it cannot serve: "" when it can)."""
        return self.name, self.problem

    def metadata(self) -> PolicyMetadata:
        return self.policy.metadata

    def new_episode(self, task: str, seed: int) -> int:
        with self._lock:
            episode_id = next(self._ids)
        self.episodes[episode_id] = self.policy.new_episode(task, seed)
        return episode_id

    def end_episode(self, episode_id: int) -> None:
        self.episodes.pop(episode_id, None)

    def infer(self, episode_id: int, observation: Observation) -> np.ndarray:
        return self.batcher.call((observation, episode_id))

    def batch_sizes(self) -> dict[int, int]:
        return dict(self.batcher.batch_sizes)

    def _run_batch(self, items: list[tuple[Observation, int]]) -> list[np.ndarray]:
        return self.policy.infer_batch([obs for obs, _ in items],
                                       [self.episodes[eid] for _, eid in items])


def _build_batch_policy(job: EpisodeJob) -> BatchPolicy:
    from pytest_wamrobust.core.model import registry

    suite = registry.make_suite(job.suite, job.suite_args)
    policy = registry.make_policy(job.policy,
                                  PolicyContext.from_options(suite.env_spec, job.policy_args))
    if not isinstance(policy, BatchPolicy):
        raise UsageError(f"--wam-ray-policy=shared needs a policy with infer_batch (a "
                         f"BatchPolicy, e.g. tiny-vla, tiny-wam, a LeRobot ACT); "
                         f"{job.policy!r} has none: drop the option to give each actor its "
                         f"own instance")
    return policy


class SharedPolicy:
    """A simulator actor's view of the host: one episode at a time, like any Policy."""

    def __init__(self, host: Any) -> None:
        import ray

        self._ray = ray
        self._host = host
        self.metadata: PolicyMetadata = ray.get(host.metadata.remote())
        self._host_name: str = ray.get(host.ready.remote())[0]
        self._episode: int | None = None

    def reset(self, task: str, seed: int) -> None:
        self.close()
        self._episode = self._ray.get(self._host.new_episode.remote(task, seed))

    def infer(self, observation: Observation) -> np.ndarray:
        if self._episode is None:
            self.reset("", 0)
        chunk: np.ndarray = self._ray.get(self._host.infer.remote(self._episode, observation))
        return chunk

    def episode_properties(self) -> dict[str, str]:
        return {"ray_policy_host": self._host_name}

    def close(self) -> None:
        if self._episode is not None:
            self._host.end_episode.remote(self._episode)
            self._episode = None
