"""Play one case: build its scene, roll the episode out, close the scene.

The one way a case is played, whether in a pytest process (`run_episode` fixture) or in
a Ray actor (`pytest_wamrobust.distributed`), so both give the same result for the same
case by construction.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import ENV_ERROR, CaseUnavailableError, UsageError, one_line
from pytest_wamrobust.core.model.protocols import Policy, PolicyContext, Suite
from pytest_wamrobust.core.model.results import ERROR, EpisodeResult
from pytest_wamrobust.core.model.types import EpisodeSpec
from pytest_wamrobust.core.running.deadline import InferTimeout, call_with_deadline
from pytest_wamrobust.core.running.episode import StepHook, run_episode


class PolicySlot:
    """The process's policy instance, built on first use. An instance whose `infer` call
    was abandoned at the deadline may still be running it, so it is never used again:
    the next episode gets a fresh one. `build` replaces the registry's factory (a Ray
    actor's handle on a shared policy); `deadline_s` bounds building it, as every other
    call into the policy."""

    def __init__(self, policy_spec: str, suite: Suite, policy_args: dict[str, str],
                 build: Callable[[], Policy] | None = None,
                 deadline_s: float | None = None) -> None:
        self._spec = policy_spec
        self._context = PolicyContext.from_options(suite.env_spec, policy_args)
        self._build = build or (lambda: registry.make_policy(self._spec, self._context))
        self._deadline_s = deadline_s
        self._policy: Policy | None = None
        self._build_error = ""

    def current(self) -> Policy:
        """The instance. A policy that cannot be built (or not within the deadline)
        raises UsageError with one line, and is tried once per process: every later
        call raises the same line."""
        if self._policy is None and not self._build_error:
            try:
                self._policy = call_with_deadline(self._build, self._deadline_s, self._spec,
                                                  "its factory")
            except InferTimeout as exc:
                self._build_error = f"policy {self._spec!r} could not be created: {exc}"
            except UsageError as exc:
                self._build_error = str(exc)
        if self._policy is None:
            raise UsageError(self._build_error)
        return self._policy

    def discard(self) -> None:
        policy, self._policy = self._policy, None
        close = getattr(policy, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001 - a hung instance may not close cleanly
                pass


def play_case(suite: Suite, slot: PolicySlot, spec: EpisodeSpec, *,
              step_hook: StepHook | None = None,
              infer_timeout_s: float | None = None) -> EpisodeResult:
    """The case's result. A fault while building the scene is the episode's error, like
    any fault inside it, so a broken case never hides the others. Raises
    CaseUnavailableError for a case this machine cannot build (an optional asset
    archive is absent) and UsageError for a policy that cannot be built."""
    policy = slot.current()
    try:
        env = suite.make_env(spec)
    except CaseUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded against the case
        return EpisodeResult(key=spec.key, status=ERROR, steps=0, params=dict(spec.params),
                             episode_seed=spec.episode_seed, policy=policy.metadata.name,
                             chunk_length=policy.metadata.chunk_length,
                             replan_steps=policy.metadata.replan_steps,
                             error=f"building the scene failed: {one_line(exc)}",
                             error_kind=ENV_ERROR)
    try:
        return run_episode(env, policy, spec, step_hook=step_hook,
                           infer_timeout_s=infer_timeout_s, on_policy_unusable=slot.discard)
    finally:
        env.close()
