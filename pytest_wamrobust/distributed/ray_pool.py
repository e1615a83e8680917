"""The pool of episode actors, run inside the Ray driver process: it keeps every actor
busy, replays the cases of an actor that died, and gives each case exactly one Outcome.

Faults are the pool's job, never a lost case:
- an actor (or its node) that dies mid-episode: its cases go back to the queue once,
  to a replacement actor where the cluster still has room, else to the others; a case
  whose actor dies a second time is a `worker_crash` error;
- an actor that cannot start (its node left, its imports fail) is retried a few times,
  one that cannot be placed within `ACTOR_START_TIMEOUT_S` is given up; with no actor
  left, every remaining case is an error saying why;
- no live node with CPUs: every outstanding case is a `worker_crash` error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from pytest_wamrobust.core.model.errors import HARNESS_ERROR, WORKER_CRASH, UsageError, one_line
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.core.running.deadline import WATCHDOG_ENV
from pytest_wamrobust.distributed.episodes import (
    EpisodeActor,
    EpisodeJob,
    Outcome,
    error_result,
)

#: Cases given to one actor at a time. One: an actor that dies was playing exactly that
#: case, so only that case is charged an attempt (a queued one would be charged too).
PIPELINE_DEPTH = 1
#: How often the driver looks up from waiting (to notice a cluster that went away).
POLL_S = 5.0
#: An actor not running this long after it was requested is given up: the cluster has
#: no room for it (a node left, or --wam-ray-cpus asks for more than a node has).
ACTOR_START_TIMEOUT_S = 120.0
#: Actors of one dispatch that may fail to start (their suite or policy import fails,
#: their node leaves) before the remaining cases are errors saying why.
MAX_START_FAILURES = 4
#: Environment variables the actors get from the session (see `session_settings`).
SETTING_PREFIX = "WAMROBUST_"
#: Plays of one case: the first, and one retry on another actor after a crash.
MAX_ATTEMPTS = 2


def session_settings() -> dict[str, str]:
    """The session's WAMROBUST_* variables (a policy server's address and API key, the
    suites' settings): an actor on another node has its own environment, so they travel
    with its runtime_env, as they reach an xdist worker by inheritance."""
    return {name: value for name, value in os.environ.items() if name.startswith(SETTING_PREFIX)}


class ClusterLost(RuntimeError):
    """The cluster has no node left to play on."""


class RayPool:
    """Connects to (or starts) Ray and plays case lists on a pool of actors."""

    def __init__(self, job: EpisodeJob, address: str | None = None, cpus_per_actor: float = 1.0,
                 runtime_env: dict[str, Any] | None = None) -> None:
        import ray

        self.ray: Any = ray  # typed loosely: Ray is an optional extra
        self.job = job
        self.cpus_per_actor = cpus_per_actor
        self.address = address or "a local Ray runtime"
        env = dict(runtime_env or {})
        env["env_vars"] = {**env.get("env_vars", {}), **session_settings(), WATCHDOG_ENV: "1"}
        self.actor_class: Any = self.ray.remote(EpisodeActor).options(
            num_cpus=cpus_per_actor, runtime_env=env, scheduling_strategy="SPREAD")
        self.ray.init(address=address, include_dashboard=False, log_to_driver=False,
                      logging_level=logging.WARNING,
                      num_cpus=os.cpu_count() if address is None else None)
        self.hosts: list[Any] = []
        self.host_cpus = 0.0
        if job.shared_policy:
            self._start_policy_hosts()

    def _start_policy_hosts(self) -> None:
        """One PolicyHost per GPU of the cluster (one on a CPU if it has none), ready
        before any simulator actor starts: a policy that cannot be shared is one line."""
        from pytest_wamrobust.distributed.policy_host import MAX_CONCURRENT_CALLS, PolicyHost

        gpus = int(self.ray.cluster_resources().get("GPU", 0.0))
        place = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        self.host_cpus = 0.0 if gpus else 1.0
        count = max(1, gpus)
        callers = -(-self.capacity() // count)  # simulator actors per host, rounded up
        host_class = self.ray.remote(PolicyHost).options(
            max_concurrency=MAX_CONCURRENT_CALLS, **place)
        self.hosts = [host_class.remote(self.job, callers) for _ in range(count)]
        states = self.ray.get([host.ready.remote() for host in self.hosts],
                              timeout=ACTOR_START_TIMEOUT_S)
        problem = next((problem for _, problem in states if problem), "")
        if problem:
            raise UsageError(problem)

    def capacity(self) -> int:
        """How many simulator actors the cluster's CPUs hold (beside any policy host)."""
        cpus = float(self.ray.cluster_resources().get("CPU", 0.0)) - self.host_cpus
        return max(0, int(cpus // self.cpus_per_actor))

    def describe(self) -> str:
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        cpus = sum(float(n.get("Resources", {}).get("CPU", 0.0)) for n in nodes)
        shared = (f", one shared batched policy on {len(self.hosts)} "
                  f"{'GPU' if not self.host_cpus else 'CPU'}(s)") if self.hosts else ""
        return (f"Ray: {self.address}, {len(nodes)} node(s), {cpus:g} CPUs, "
                f"{self.cpus_per_actor:g} CPU(s) per actor{shared}")

    def outcomes(self, keys: Sequence[CaseKey]) -> Generator[Outcome, None, None]:
        """One Outcome per key, each exactly once, as the episodes finish."""
        return _Dispatch(self, keys).run()

    def kill(self, actor: Any) -> None:
        """End an actor; one already gone with its node or the cluster is no error."""
        with contextlib.suppress(Exception):
            self.ray.kill(actor)

    def close(self) -> None:
        for host in self.hosts:
            self.kill(host)
        if self.ray.is_initialized():
            self.ray.shutdown()


class _Dispatch:
    """One dispatch of a case list: the queue, the actors, what each is playing."""

    def __init__(self, pool: RayPool, keys: Sequence[CaseKey]) -> None:
        self.pool = pool
        self.ray = pool.ray
        self.queue: deque[CaseKey] = deque(keys)
        self.attempts: dict[CaseKey, int] = {}
        self.playing: dict[Any, tuple[CaseKey, Any]] = {}  # task ref -> (case, actor)
        self.starting: dict[Any, tuple[Any, float]] = {}  # ready ref -> (actor, deadline)
        self.load: dict[Any, int] = {}                     # live actor -> cases queued on it
        self.dead: set[Any] = set()
        self.start_failures: list[str] = []
        self.started = 0

    def run(self) -> Generator[Outcome, None, None]:
        try:
            wanted = min(len(self.queue), max(1, self.pool.capacity()))
            for _ in range(wanted):
                self._start_actor()
            while self.queue or self.playing:
                ready = self._wait()
                for ref in ready:
                    yield from self._settle(ref)
                self._give_up_unplaced()
                if self.queue and not self.load and not self.starting:
                    cpus = self.pool.cpus_per_actor
                    yield from self._fail_rest(f"no Ray actor could be placed (each needs "
                                               f"{cpus:g} CPU(s) of {self.pool.describe()})")
        except Exception as exc:  # noqa: BLE001 - the connection to the cluster failed
            yield from self._fail_rest(f"the Ray cluster was lost ({one_line(exc)})")
        finally:
            for actor in [*self.load, *(a for a, _ in self.starting.values())]:
                self.pool.kill(actor)

    def _wait(self) -> list[Any]:
        refs = [*self.playing, *self.starting]
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=POLL_S)
        if not ready and self.pool.capacity() == 0:  # raises if the head is gone
            raise ClusterLost(f"no live node with CPUs left; {self.pool.describe()}")
        return ready

    def _start_actor(self) -> None:
        hosts = self.pool.hosts
        host = hosts[self.started % len(hosts)] if hosts else None
        self.started += 1
        actor = self.pool.actor_class.remote(self.pool.job, host)
        self.starting[actor.ready.remote()] = (actor, time.monotonic() + ACTOR_START_TIMEOUT_S)

    def _settle(self, ref: Any) -> Iterator[Outcome]:
        if ref in self.starting:
            actor, _ = self.starting.pop(ref)
            try:
                self.ray.get(ref)
            except self.ray.exceptions.RayError as exc:
                self.start_failures.append(_cause(exc))
                if len(self.start_failures) < MAX_START_FAILURES:
                    self._start_actor()  # a node that just left, say: try the others
                elif not self.load and not self.starting:
                    yield from self._fail_rest(
                        f"no Ray actor could start ({len(self.start_failures)} tried; the "
                        f"last: {self.start_failures[-1]})")
                return
            self.load[actor] = 0
            self._feed(actor)
            return
        key, actor = self.playing.pop(ref)
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            yield from self._actor_died(key, actor, exc)
            return
        except self.ray.exceptions.RayError as exc:  # the actor's own code failed
            outcome = Outcome(key, error_result(self.pool.job, key, HARNESS_ERROR,
                                          f"playing the case on Ray failed: {_cause(exc)}"))
        self.load[actor] -= 1
        self._feed(actor)
        yield outcome

    def _actor_died(self, key: CaseKey, actor: Any, exc: Exception) -> Iterator[Outcome]:
        self.attempts[key] = self.attempts.get(key, 1) + 1
        if actor not in self.dead:
            self.dead.add(actor)
            self.load.pop(actor, None)
            if len(self.load) + len(self.starting) < self.pool.capacity():
                self._start_actor()
        if self.attempts[key] <= MAX_ATTEMPTS:
            self.queue.appendleft(key)
            for live in list(self.load):
                self._feed(live)
            return
        yield Outcome(key, error_result(self.pool.job, key, WORKER_CRASH,
                                  f"its Ray actor died twice ({_cause(exc)})"))

    def _feed(self, actor: Any) -> None:
        while self.queue and self.load.get(actor, PIPELINE_DEPTH) < PIPELINE_DEPTH:
            key = self.queue.popleft()
            self.playing[actor.play.remote(key)] = (key, actor)
            self.load[actor] += 1

    def _give_up_unplaced(self) -> None:
        now = time.monotonic()
        for ref, (actor, deadline) in list(self.starting.items()):
            if now > deadline:
                del self.starting[ref]
                self.pool.kill(actor)

    def _fail_rest(self, reason: str) -> Iterator[Outcome]:
        rest = [*self.queue, *(key for key, _ in self.playing.values())]
        self.queue.clear()
        self.playing.clear()
        for key in rest:
            yield Outcome(key, error_result(self.pool.job, key, WORKER_CRASH, reason))

def _cause(exc: BaseException) -> str:
    return one_line(exc).split("\n")[0][:300]
