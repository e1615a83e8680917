"""Fixtures for the generated cases and for users who write their own tests.

    def test_short_episodes(episode_spec, run_episode):   # parametrized over --suite's cases
        result = run_episode(episode_spec)
        assert result.steps < 200

`policy` and `suite` are session-scoped, so each xdist worker builds the policy once
(and again only after an `infer` call it had to abandon at --wam-infer-timeout).
`run_episode` records the result's `wam.*` properties, which is what the controller's
table, the gates and `wamrobust report` read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from pytest_wamrobust.plugin.options import DEFAULT_ARTIFACTS

# The rest loads when a fixture is first used: the plugin is imported by every pytest run
# of the environment, most of which never evaluate a policy.
if TYPE_CHECKING:
    from pytest_wamrobust.core.model.protocols import Policy, Suite
    from pytest_wamrobust.core.model.results import EpisodeResult
    from pytest_wamrobust.core.model.types import EpisodeSpec
    from pytest_wamrobust.core.running.episode import StepHook
    from pytest_wamrobust.core.running.player import PolicySlot
    from pytest_wamrobust.plugin.run import WamRun
    from pytest_wamrobust.records.video import VideoRecorder

RUN_KEY = pytest.StashKey["WamRun"]()

RunEpisode = Callable[..., "EpisodeResult"]


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
def policy_slot(pytestconfig: pytest.Config) -> PolicySlot:
    from pytest_wamrobust.core.running.player import PolicySlot

    run = current_run(pytestconfig)
    return PolicySlot(run.policy_spec, run.suite, run.options.policy_args,
                      deadline_s=run.options.infer_deadline_s)


@pytest.fixture(scope="session")
def policy(policy_slot: PolicySlot) -> Policy:
    """The policy chosen with --policy, built once per process (xdist worker)."""
    return current_policy(policy_slot)


def current_policy(slot: PolicySlot) -> Policy:
    """The slot's instance; one that cannot be built fails the test with its one line."""
    from pytest_wamrobust.core.model.errors import UsageError

    try:
        return slot.current()
    except UsageError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)  # outside `except`: no "During handling of" chain


@pytest.fixture
def episode_spec(request: pytest.FixtureRequest, wam_run: WamRun) -> EpisodeSpec:
    """The case of this test; tests asking for it are parametrized over the suite's cases
    (with --wam-replay, the stored failures)."""
    key = getattr(request, "param", None)
    if key is None:
        pytest.fail("episode_spec is only available when pytest runs with --suite", pytrace=False)
    return wam_run.spec(key)


@pytest.fixture
def run_episode(request: pytest.FixtureRequest, wam_run: WamRun, suite: Suite,
                policy_slot: PolicySlot) -> RunEpisode:
    """Run an EpisodeSpec with the session's policy and record its properties.

    With --wam-video, the episode's cameras are recorded and kept as an MP4 when its
    outcome is one the option keeps (`result.video`, the `wam.video` property).

    A fault while building the scene ends the episode as an error, like any fault
    inside it, so a broken case never hides the others. A case this machine cannot
    build (an optional asset archive is absent) is skipped with the reason, and the
    controller counts it.
    """

    from pytest_wamrobust.core.model.errors import CaseUnavailableError, one_line
    from pytest_wamrobust.core.running.player import play_case

    def run(spec: EpisodeSpec, step_hook: StepHook | None = None) -> EpisodeResult:
        current_policy(policy_slot)  # a policy that cannot be built fails with its line
        recorder = video_recorder(wam_run) if step_hook is None else None
        try:
            result = play_case(suite, policy_slot, spec, step_hook=step_hook or recorder,
                               infer_timeout_s=wam_run.options.infer_deadline_s)
        except CaseUnavailableError as exc:
            pytest.skip(one_line(exc))
        if recorder is not None:
            result = recorder.finish(result)
        record(request, result)
        return result

    return run


def record(request: pytest.FixtureRequest, result: EpisodeResult) -> None:
    """Attach the result's `wam.*` properties to the test, for the controller and JUnit.
    user_properties directly, not record_property: same transport (xdist, JUnit),
    without its warning when a project keeps junit_family=xunit2."""
    request.node.user_properties.extend(result.to_properties())


def video_recorder(run: WamRun) -> VideoRecorder | None:
    from pytest_wamrobust.records.video import VideoRecorder

    which = run.options.video or "none"
    if which == "none":
        return None
    return VideoRecorder(run.options.artifacts or DEFAULT_ARTIFACTS, which)


@pytest.fixture
def episode_result(request: pytest.FixtureRequest, episode_spec: EpisodeSpec) -> EpisodeResult:
    """The episode of a generated case, played here or (--wam-ray) by a Ray actor; an
    errored episode errors the test (setup), so JUnit shows `<error>` for it and
    `<failure>` only for a task not solved."""
    from pytest_wamrobust.plugin.early_stop import stop_reason
    from pytest_wamrobust.plugin.ray_dispatch import dispatch_of
    from pytest_wamrobust.plugin.resume import carried_result

    decided = stop_reason(request.config)
    if decided:
        pytest.skip(decided)
    dispatch = dispatch_of(request.config)
    result = carried_result(request.config, episode_spec.key)  # --wam-resume
    if result is None and dispatch is not None:
        result = dispatch.result_for(episode_spec.key)
    if result is not None:
        record(request, result)
    else:
        result = request.getfixturevalue("run_episode")(episode_spec)
    if result.errored:
        pytest.fail(f"episode error ({result.describe()}): {result.error}", pytrace=False)
    return result

