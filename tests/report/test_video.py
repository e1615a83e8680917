"""Failure videos: real MuJoCo rendering through run_episode's step hook into real MP4s."""

from __future__ import annotations

import os
import resource

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
import pytest
from junitparser import JUnitXml, Properties

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import (
    CameraSpec,
    CaseKey,
    EnvSpec,
    EpisodeSpec,
    Observation,
    PolicyMetadata,
    TaskSpec,
)
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.records.junit import link_videos, read_results
from pytest_wamrobust.records.video import (
    VideoRecorder,
    VideoWarning,
    parse_video_selection,
    tile_frames,
    video_path,
)

mujoco = pytest.importorskip("mujoco")
pytest_plugins = ["pytester"]

SCENE = """
<mujoco>
  <option timestep="0.01"/>
  <worldbody>
    <light pos="0 0 2"/>
    <geom type="plane" size="1 1 .1" rgba=".7 .7 .7 1"/>
    <body name="box" pos="0 0 .3"><freejoint/>
      <geom type="box" size=".06 .06 .06" rgba="1 0 0 1"/></body>
    <camera name="front" pos="0 -1 .4" xyaxes="1 0 0 0 .4 1"/>
    <camera name="top" pos="0 0 1.2"/>
  </worldbody>
  <actuator/>
</mujoco>
"""


class DropEnv:
    """A box dropped on a table, rendered by two cameras of different sizes.

    The action pushes the box sideways; the task is solved once the box rests within
    `goal` m of the table. A policy that pushes it off the 1 m table edge fails.
    """

    def __init__(self, goal_x: float = 0.1) -> None:
        self.spec = EnvSpec("drop",
                            (CameraSpec("front", 48, 64), CameraSpec("top", 32, 32, "wrist")),
                            state_dim=3, action_dim=1, control_hz=20.0)
        self.model = mujoco.MjModel.from_xml_string(SCENE)
        self.data = mujoco.MjData(self.model)
        self.renderers = {c.name: mujoco.Renderer(self.model, c.height, c.width)
                          for c in self.spec.cameras}
        self.goal_x = goal_x
        self.observed = 0

    def reset(self) -> Observation:
        mujoco.mj_resetData(self.model, self.data)
        return self.observe()

    def step(self, action: np.ndarray) -> None:
        self.data.qvel[0] = float(action[0])
        for _ in range(5):
            mujoco.mj_step(self.model, self.data)

    def observe(self) -> Observation:
        self.observed += 1
        images = {}
        for name, renderer in self.renderers.items():
            renderer.update_scene(self.data, name)
            images[name] = renderer.render().copy()
        return Observation(images, self.data.qpos[:3].copy(), "put the box down")

    def success(self) -> bool:
        x, z = self.data.qpos[0], self.data.qpos[2]
        return bool(z < 0.07 and abs(x) < self.goal_x and np.abs(self.data.qvel[:3]).max() < 0.05)

    def close(self) -> None:
        for renderer in self.renderers.values():
            renderer.close()


class ConstantPolicy:
    def __init__(self, push: float) -> None:
        self.metadata = PolicyMetadata("const", chunk_length=4, replan_steps=4, family="baseline")
        self.push = push

    def reset(self, task: str, seed: int) -> None:
        pass

    def infer(self, observation: Observation) -> np.ndarray:
        return np.full((4, 1), self.push)


def episode(push: float, recorder):
    env = DropEnv()
    spec = EpisodeSpec(CaseKey("drop", "settle", "clean", 0, 3),
                       TaskSpec("settle", "put the box down", max_steps=40), {}, 1)
    try:
        result = run_episode(env, ConstantPolicy(push), spec, step_hook=recorder)
        return recorder.finish(result), env.observed
    finally:
        env.close()


def read_video(path):
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    frames = [np.frombuffer(f, np.uint8).reshape(meta["size"][1], meta["size"][0], 3)
              for f in reader]
    return meta, frames


def test_failure_is_recorded_with_all_cameras_side_by_side(tmp_path):
    result, _ = episode(push=1.0, recorder=VideoRecorder(tmp_path / "videos"))
    assert result.status == "failure" and result.steps == 40
    assert result.video == str(tmp_path / "videos" / "const" / "drop__settle__clean__L0__s03.mp4")
    meta, frames = read_video(result.video)
    assert meta["size"] == (64 + 32, 48) and meta["fps"] == pytest.approx(20.0)
    assert len(frames) == 40
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() > 1.0  # the box moved: real frames, not a still
    assert frames[0][40:, 64:].mean() < 20  # the shorter top camera is padded below


def test_success_is_not_written_under_failures_policy(tmp_path):
    result, observed = episode(push=0.0, recorder=VideoRecorder(tmp_path))
    assert result.success and result.video == ""
    assert observed > 0 and not any(tmp_path.rglob("*.mp4"))


def test_all_policy_and_frame_stride(tmp_path):
    result, _ = episode(push=0.0, recorder=VideoRecorder(tmp_path, "all", every=3))
    assert result.success and result.video
    meta, frames = read_video(result.video)
    assert len(frames) == -(-result.steps // 3) and meta["fps"] == pytest.approx(20.0 / 3, rel=0.01)


def test_none_policy_renders_nothing(tmp_path):
    result, observed = episode(push=1.0, recorder=VideoRecorder(tmp_path, "none"))
    # reset + one per chunk, as without a recorder
    assert result.video == "" and observed == 1 + 40 // 4


def test_recorder_is_reusable_across_episodes(tmp_path):
    recorder = VideoRecorder(tmp_path, "all", every=4)
    first, _ = episode(push=1.0, recorder=recorder)
    second, _ = episode(push=1.0, recorder=recorder)
    assert recorder.frames == []
    assert len(read_video(second.video)[1]) == len(read_video(first.video)[1]) == 10


def test_pytest_junit_links_the_video(pytester, tmp_path):
    """The plugin records properties with record_property; link_videos adds the
    attachment line Jenkins and GitLab read, and report reads the video back."""
    video = tmp_path / "v.mp4"
    pytester.makepyfile(f"""
        from pytest_wamrobust.core.model.results import EpisodeResult
        from pytest_wamrobust.core.model.types import CaseKey

        def test_episode(record_property):
            result = EpisodeResult(CaseKey("drop", "settle", "camera", 3, 7), "failure", 40,
                                   [12.5, 13.0], policy="const", video={str(video)!r})
            for name, value in result.to_properties():
                record_property(name, value)
            assert result.success
    """)
    xml = pytester.path / "r.xml"
    pytester.runpytest("-p", "no:cacheprovider", "-o", "junit_family=xunit1", f"--junitxml={xml}")
    assert "[[ATTACHMENT|" not in xml.read_text()
    assert link_videos(xml) == 1 and link_videos(xml) == 0  # idempotent
    assert f"[[ATTACHMENT|{video}]]" in xml.read_text()
    assert read_results([xml])[0].video == str(video)


def test_tile_and_policy_parsing():
    a, b = np.zeros((5, 4, 3), np.uint8), np.full((3, 3, 3), 255, np.uint8)
    tiled = tile_frames({"a": a, "b": b}, ["a", "b"])
    assert tiled.shape == (6, 8, 3) and tiled[:3, 4:7].min() == 255 and tiled[3:, 4:].max() == 0
    assert parse_video_selection("Failures") == "failures"
    with pytest.raises(UsageError, match="choose one of failures, all, none"):
        parse_video_selection("some")


def test_video_path_is_one_readable_file_per_case(tmp_path):
    from pytest_wamrobust.core.model.results import EpisodeResult

    r = EpisodeResult(CaseKey("tabletop", "pick_cube", "camera", 3, 7), "failure", 1,
                      policy="ws://host:8000")
    expected = tmp_path / "ws___host_8000" / "tabletop__pick_cube__camera__L3__s07.mp4"
    assert video_path(tmp_path, r) == expected


def test_real_tabletop_failure_video(tmp_path):
    """The built-in suite: a random policy fails lift_cube under the camera axis; the video
    shows every camera of the suite, as the policy saw them, at the control rate."""
    from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
    from pytest_wamrobust.policies.baselines import make_random_policy
    from pytest_wamrobust.sims.tabletop.suite import make_suite

    suite = make_suite()
    key = next(k for k in suite.cases(CaseSelection(tasks=["lift_cube"], settings=["camera"],
                                                    levels=[5], seeds=1)))
    spec = suite.episode_spec(key)
    env = suite.make_env(spec)
    recorder = VideoRecorder(tmp_path, "failures", every=4)
    try:
        result = recorder.finish(run_episode(env, make_random_policy(
            PolicyContext(suite.env_spec)), spec, step_hook=recorder))
    finally:
        env.close()
    assert result.status == "failure"
    meta, frames = read_video(result.video)
    cams = suite.env_spec.cameras
    assert meta["size"] == (sum(c.width for c in cams), max(c.height for c in cams))
    assert len(frames) == -(-result.steps // 4)
    assert meta["fps"] == pytest.approx(suite.env_spec.control_hz / 4, rel=0.01)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5


class CappedRecorder(VideoRecorder):
    """Writes its video under a file size limit of `cap` bytes, as a full quota would."""

    cap = 0

    def finish(self, result):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.cap, hard))
        try:
            return super().finish(result)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_video_cut_short_is_removed_and_the_outcome_stands(tmp_path):
    whole, _ = episode(push=1.0, recorder=VideoRecorder(tmp_path / "whole"))
    recorder = CappedRecorder(tmp_path / "cut")
    recorder.cap = os.path.getsize(whole.video) // 2  # ffmpeg is stopped halfway
    with pytest.warns(VideoWarning) as warned:
        result, _ = episode(push=1.0, recorder=recorder)
    assert result.status == "failure" and result.steps == whole.steps and result.video == ""
    assert [str(w.message) for w in warned] == [
        "video of drop/settle/clean/L0/s03 not written (ffmpeg was killed by SIGXFSZ); its "
        "failure result stands, and JUnit links no video"]
    assert not any((tmp_path / "cut").rglob("*.mp4"))  # the partial file is gone


class FlakyCameraEnv(DropEnv):
    """The recorder's third frame fails to render; the episode's own observations do not."""

    def observe(self) -> Observation:
        if self.observed == 3:
            self.observed += 1
            raise RuntimeError("renderer lost its context")
        return super().observe()


def test_a_recording_fault_inside_the_episode_costs_the_video_only(tmp_path):
    env = FlakyCameraEnv()
    spec = EpisodeSpec(CaseKey("drop", "settle", "clean", 0, 3),
                       TaskSpec("settle", "put the box down", max_steps=40), {}, 1)
    recorder = VideoRecorder(tmp_path, "all")
    try:
        result = run_episode(env, ConstantPolicy(1.0), spec, step_hook=recorder)
        with pytest.warns(VideoWarning, match=r"\(recording failed: RuntimeError: renderer "
                                              r"lost its context\); its failure result stands"):
            result = recorder.finish(result)
    finally:
        env.close()
    assert result.status == "failure" and result.steps == 40 and result.video == ""
    assert not any(tmp_path.rglob("*.mp4"))


def test_a_full_disk_is_one_warning_line_and_junit_links_no_video(pytester, run_plugin):
    """ffmpeg writes into /dev/full (the video's path links there): every write fails with
    ENOSPC, as on a full disk. The episode stays a failure, not an error."""
    video = pytester.path / "videos/random/tabletop__lift_cube__clean__L0__s00.mp4"
    video.parent.mkdir(parents=True)
    video.symlink_to("/dev/full")
    result = run_plugin("--policy=random", "--suite=tabletop", "--tasks=lift_cube",
                        "--axes=clean", "--levels=1", "--seeds=1", "--wam-video=failures",
                        "--wam-artifacts=videos", "-p", "no:xdist")
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == 1 and "Broken pipe" not in out and "Traceback" not in out, out
    result.assert_outcomes(passed=1, failed=1)  # test_latency, and the episode's failure
    warned = [line for line in out.splitlines() if "VideoWarning" in line]
    assert len(warned) == 1 and warned[0].endswith(
        "VideoWarning: video of tabletop/lift_cube/clean/L0/s00 not written (No space left on "
        "device); its failure result stands, and JUnit links no video"), out
    assert not video.exists() and not video.is_symlink()
    xml = JUnitXml.fromfile(str(pytester.path / "report.xml"))
    case = next(c for s in xml for c in s if c.name.startswith("test_episode["))
    props = {p.name: p.value for p in case.child(Properties)}
    assert props["wam.status"] == "failure" and "wam.video" not in props
    assert "[[ATTACHMENT|" not in (case.system_out or "")
