"""Fixtures for the generated cases and for users who write their own tests.

    def test_short_episodes(episode_spec, run_episode):   # parametrized over --suite's cases
        result = run_episode(episode_spec)
        assert result.steps < 200

`policy` and `suite` are session-scoped, so each xdist worker builds the policy once.
`run_episode` records the result's `wam.*` properties, which is what the controller's
table, the gates and `wamrobust report` read.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .core import registry
from .core.episode import StepHook
from .core.episode import run_episode as _run_episode
from .core.errors import CaseUnavailableError, UsageError, one_line
from .core.protocols import Policy, PolicyContext, Suite
from .core.results import ERROR, EpisodeResult
from .core.types import EpisodeSpec
from .options import DEFAULT_ARTIFACTS
from .run import WamRun
from .video import VideoRecorder

RUN_KEY = pytest.StashKey[WamRun]()

RunEpisode = Callable[..., EpisodeResult]


def current_run(config: pytest.Config) -> WamRun:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        pytest.fail("this test needs a suite: run pytest with --suite=NAME --policy=NAME",
                    pytrace=False)
    return run


@pytest.fixture(scope="session")
def wam_run(pytestconfig: pytest.Config) -> WamRun:
    """The session's suite, policy spec, cases and gates."""
    return current_run(pytestconfig)


@pytest.fixture(scope="session")
def suite(pytestconfig: pytest.Config) -> Suite:
    """The suite chosen with --suite."""
    return current_run(pytestconfig).suite


@pytest.fixture(scope="session")
def policy(pytestconfig: pytest.Config) -> Policy:
    """The policy chosen with --policy, built once per process (xdist worker)."""
    run = current_run(pytestconfig)
    options = dict(run.options.policy_args)
    ctx = PolicyContext(env_spec=run.suite.env_spec, options=options,
                        device=options.get("device", "cpu"))
    try:
        return registry.make_policy(run.policy_spec, ctx)
    except UsageError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def episode_spec(request: pytest.FixtureRequest, suite: Suite) -> EpisodeSpec:
    """The case of this test; tests asking for it are parametrized over the suite's cases."""
    key = getattr(request, "param", None)
    if key is None:
        pytest.fail("episode_spec is only available when pytest runs with --suite", pytrace=False)
    return suite.episode_spec(key)


@pytest.fixture
def run_episode(request: pytest.FixtureRequest, wam_run: WamRun, suite: Suite,
                policy: Policy) -> RunEpisode:
    """Run an EpisodeSpec with the session's policy and record its properties.

    With --wam-video, the episode's cameras are recorded and kept as an MP4 when its
    outcome is one the option keeps (`result.video`, the `wam.video` property).

    A fault while building the scene ends the episode as an error, like any fault
    inside it, so a broken case never hides the others. A case this machine cannot
    build (an optional asset archive is absent) is skipped with the reason, and the
    controller counts it.
    """

    def run(spec: EpisodeSpec, step_hook: StepHook | None = None) -> EpisodeResult:
        try:
            env = suite.make_env(spec)
        except CaseUnavailableError as exc:
            pytest.skip(one_line(exc))
        except Exception as exc:  # noqa: BLE001 - recorded against the case
            result = EpisodeResult(key=spec.key, status=ERROR, steps=0, params=dict(spec.params),
                                   episode_seed=spec.episode_seed, policy=policy.metadata.name,
                                   error=f"building the scene failed: {one_line(exc)}",
                                   error_kind="env_error")
        else:
            recorder = video_recorder(wam_run) if step_hook is None else None
            try:
                result = _run_episode(env, policy, spec, step_hook=step_hook or recorder)
                if recorder is not None:
                    result = recorder.finish(result)
            finally:
                env.close()
        # user_properties directly, not record_property: same transport (xdist, JUnit),
        # without its warning when a project keeps junit_family=xunit2
        request.node.user_properties.extend(result.to_properties())
        return result

    return run


def video_recorder(run: WamRun) -> VideoRecorder | None:
    which = run.options.video or "none"
    if which == "none":
        return None
    return VideoRecorder(run.options.artifacts or DEFAULT_ARTIFACTS, which)


@pytest.fixture
def episode_result(episode_spec: EpisodeSpec, run_episode: RunEpisode) -> EpisodeResult:
    """The episode of a generated case; an errored episode errors the test (setup), so
    JUnit shows `<error>` for it and `<failure>` only for a task not solved."""
    result = run_episode(episode_spec)
    if result.errored:
        pytest.fail(f"episode error ({describe(result)}): {result.error}", pytrace=False)
    return result


def describe(result: EpisodeResult) -> str:
    """Task, setting, level, seed and steps: enough to re-run and read the case."""
    key = result.key
    return (f"task={key.task} axis={key.axis} level={key.level} seed=s{key.seed_index:02d} "
            f"episode_seed={result.episode_seed} steps={result.steps}")
