"""Run one episode: reset, then [infer a chunk (timed) -> execute replan_steps actions]*.

Every fault inside the episode - the policy raising, returning NaN or the wrong shape,
not returning within the deadline, the simulator failing - ends that episode as an
`error` result with a one-line reason; it never propagates, so the rest of the run goes
on and no result is lost. Action values outside [-1, 1] are clipped, and counted, so a
policy that leans on the clip is visible in the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np

from pytest_wamrobust.core.model.errors import (
    ENV_ERROR,
    INVALID_ACTION,
    POLICY_ERROR,
    EpisodeError,
    one_line,
)
from pytest_wamrobust.core.model.protocols import Env, Policy
from pytest_wamrobust.core.model.results import ERROR, FAILURE, SUCCESS, EpisodeResult
from pytest_wamrobust.core.model.types import EpisodeSpec, Observation
from pytest_wamrobust.core.running.deadline import InferTimeout, call_with_deadline

#: Called after every executed action with the env, e.g. to record a video frame.
StepHook = Callable[[Env], None]


def validate_chunk(chunk: object, action_dim: int, policy: str) -> np.ndarray:
    """The chunk as a float array (H, action_dim), or an EpisodeError saying what is wrong.

    Only real integers and floats are actions: a cast to float would turn True into 1.0
    and "0.5" into 0.5, and drop the imaginary part of 1+2j, without a word."""
    try:
        array = np.asarray(chunk)
    except (TypeError, ValueError) as exc:
        raise EpisodeError(INVALID_ACTION, f"policy {policy!r} returned a non-numeric "
                           f"action chunk ({one_line(exc)})") from None
    if array.dtype.kind not in "iuf":
        raise EpisodeError(INVALID_ACTION, f"policy {policy!r} returned an action chunk of "
                           f"dtype {array.dtype}; actions are real numbers (an integer or "
                           f"float array)")
    array = array.astype(np.float64)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != action_dim:
        raise EpisodeError(
            INVALID_ACTION,
            f"policy {policy!r} returned actions of shape {tuple(array.shape)}; "
            f"this suite expects (chunk_length, {action_dim})",
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise EpisodeError(
            INVALID_ACTION,
            f"policy {policy!r} returned {bad} NaN/inf values in an action chunk",
        )
    return array


def _policy_properties(policy: Policy) -> dict[str, str]:
    """Extra `wam.*` properties a policy may report per episode (e.g. a server's timings)."""
    report = getattr(policy, "episode_properties", None)
    if not callable(report):
        return {}
    try:
        return {str(k): str(v) for k, v in report().items()}
    except Exception:  # noqa: BLE001 - a reporting fault must not cost the episode's result
        return {}


def run_episode(
    env: Env,
    policy: Policy,
    spec: EpisodeSpec,
    *,
    step_hook: StepHook | None = None,
    clock: Callable[[], float] = time.perf_counter,
    infer_timeout_s: float | None = None,
    on_policy_unusable: Callable[[], None] | None = None,
) -> EpisodeResult:
    """Roll out `policy` in `env` until success or the task's step limit.

    `infer_timeout_s` bounds each `reset` and `infer` call (see `deadline`); the latency
    recorded is the call's own duration, without the deadline's thread hand-off.
    `on_policy_unusable` is called after the result is taken when the instance must not
    be used again: a call was abandoned at its deadline, or the policy raised a
    BaseException (e.g. asyncio.CancelledError) that may have left it half-way."""
    meta = policy.metadata
    action_dim = env.spec.action_dim
    latencies: list[float] = []
    steps = 0
    clipped = 0
    instruction = ""
    started = clock()

    def finish(status: str, error: str = "", kind: str = "") -> EpisodeResult:
        return EpisodeResult(
            key=spec.key,
            status=status,
            steps=steps,
            chunk_latencies_ms=latencies,
            params=dict(spec.params),
            episode_seed=spec.episode_seed,
            policy=meta.name,
            instruction=instruction,
            error=error,
            error_kind=kind,
            wall_time_s=clock() - started,
            clipped_values=clipped,
            extra=_policy_properties(policy),
            chunk_length=meta.chunk_length,
            replan_steps=meta.replan_steps,
        )

    def timed_infer(observation: Observation) -> tuple[object, float]:
        t0 = clock()
        raw = policy.infer(observation)
        return raw, clock() - t0

    stage = ENV_ERROR
    try:
        observation: Observation = env.reset()
        instruction = observation.instruction
        stage = POLICY_ERROR
        call_with_deadline(partial(policy.reset, spec.task.name, spec.episode_seed),
                           infer_timeout_s, meta.name, "reset")
        while steps < spec.max_steps:
            stage = POLICY_ERROR
            raw, seconds = call_with_deadline(partial(timed_infer, observation),
                                              infer_timeout_s, meta.name)
            latencies.append(seconds * 1000.0)
            chunk = validate_chunk(raw, action_dim, meta.name)
            stage = ENV_ERROR
            for action in chunk[: meta.replan_steps]:
                clipped += int(np.count_nonzero(np.abs(action) > 1.0))
                env.step(np.clip(action, -1.0, 1.0))
                steps += 1
                if step_hook is not None:
                    step_hook(env)
                if env.success():
                    return finish(SUCCESS)
                if steps >= spec.max_steps:
                    break
            observation = env.observe()
        return finish(FAILURE)
    except EpisodeError as exc:
        result = finish(ERROR, one_line(exc), exc.kind)
        if isinstance(exc, InferTimeout) and on_policy_unusable is not None:
            on_policy_unusable()
        return result
    except KeyboardInterrupt:
        raise  # the session's own interrupt (Ctrl-C, SIGTERM), never the policy's
    except BaseException as exc:  # noqa: BLE001 - this episode's error, never the run's
        where = "policy" if stage == POLICY_ERROR else "simulator"
        result = finish(ERROR, f"{where} raised {one_line(exc)} at step {steps}", stage)
        if not isinstance(exc, Exception) and on_policy_unusable is not None:
            on_policy_unusable()
        return result
