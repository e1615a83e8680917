"""What one Ray actor is: a simulator process with its own policy instance that plays
cases with `core.running.player.play_case`, the function a pytest process uses, so a case's
outcome is the same under Ray as under `-n N`."""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_wamrobust.core.cases.seeding import episode_seed
from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.results import ERROR, EpisodeResult
from pytest_wamrobust.core.model.types import CaseKey, EpisodeSpec


@dataclass(frozen=True)
class EpisodeJob:
    """What every actor needs to play a session's cases; plain data, sent to each actor."""

    suite: str
    policy: str
    suite_args: dict[str, str] = field(default_factory=dict)
    policy_args: dict[str, str] = field(default_factory=dict)
    infer_timeout_s: float | None = None
    video: str = "none"
    #: one batched policy instance per GPU for all actors (`--wam-ray-policy=shared`)
    shared_policy: bool = False
    #: `--wam-replay`'s cases and their stored episodes (the suite cannot draw them)
    replays: dict[CaseKey, EpisodeSpec] = field(default_factory=dict)


@dataclass
class Outcome:
    """One case's answer from an actor: its result, or why it has none (a case this
    machine cannot build is skipped; a policy that cannot be built fails it)."""

    key: CaseKey
    result: EpisodeResult | None = None
    unavailable: str = ""
    build_error: str = ""
    video: bytes = b""
    node: str = ""

    def keep_video(self, artifacts_dir: str | Path) -> EpisodeResult | None:
        """The result, its video (recorded on the actor's node) written under the
        driver's `artifacts_dir` at the path it would have had locally."""
        if self.result is None or not self.video:
            return self.result
        from pytest_wamrobust.records.video import video_path

        path = video_path(artifacts_dir, self.result)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.video)
        return replace(self.result, video=str(path))


class EpisodeActor:
    """A Ray actor's state: the suite and a policy slot, built once per actor; with a
    policy `host` (`--wam-ray-policy=shared`) the slot holds a handle on it instead."""

    def __init__(self, job: EpisodeJob, host: Any = None) -> None:
        import ray

        from pytest_wamrobust.core.model import registry
        from pytest_wamrobust.core.running.player import PolicySlot
        from pytest_wamrobust.distributed.policy_host import SharedPolicy

        self.job = job
        self.suite = registry.make_suite(job.suite, job.suite_args)
        self.slot = PolicySlot(job.policy, self.suite, job.policy_args,
                               build=None if host is None else lambda: SharedPolicy(host),
                               deadline_s=job.infer_timeout_s)

        node_id = ray.get_runtime_context().get_node_id()
        self.node = f"{socket.gethostname()} node {node_id[:8]} pid {os.getpid()}"

    def ready(self) -> str:
        return self.node

    def play(self, key: CaseKey) -> Outcome:
        from pytest_wamrobust.core.model.errors import CaseUnavailableError
        from pytest_wamrobust.core.running.player import play_case
        from pytest_wamrobust.core.search.replay import case_spec

        spec = case_spec(self.suite, key, self.job.replays)
        with tempfile.TemporaryDirectory(prefix="wamrobust-video-") as folder:
            recorder = self._recorder(folder)
            try:
                result = play_case(self.suite, self.slot, spec, step_hook=recorder,
                                   infer_timeout_s=self.job.infer_timeout_s)
            except CaseUnavailableError as exc:
                return Outcome(key, unavailable=one_line(exc), node=self.node)
            except UsageError as exc:
                return Outcome(key, build_error=str(exc), node=self.node)
            video = b""
            if recorder is not None:
                result = recorder.finish(result)
                if result.video:
                    video = Path(result.video).read_bytes()
        return Outcome(key, result, video=video, node=self.node)

    def _recorder(self, folder: str) -> Any:
        if self.job.video == "none":
            return None
        from pytest_wamrobust.records.video import VideoRecorder

        return VideoRecorder(folder, self.job.video)


def error_result(job: EpisodeJob, key: CaseKey, kind: str, reason: str) -> EpisodeResult:
    """A case Ray could not play, with its seed so it can be re-run alone."""
    return EpisodeResult(key=key, status=ERROR, steps=0, episode_seed=episode_seed(key),
                         policy=job.policy, error=reason, error_kind=kind)
