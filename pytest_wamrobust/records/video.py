"""Failure videos: every camera of an episode, side by side, as an MP4 linked from JUnit.

`VideoRecorder` is a `run_episode` step hook. Frames stay in memory and are encoded
(H.264 through the ffmpeg binary bundled with imageio-ffmpeg, so no system ffmpeg is
needed) only when the episode's outcome is one the policy keeps: with `failures`, the
passing majority of a run costs rendering time but no disk. The JUnit case links the
file twice: the `wam.video` property and the `[[ATTACHMENT|path]]` line in system-out
that Jenkins' JUnit attachments plugin and GitLab's test reports read.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pytest_wamrobust.core.errors import UsageError
from pytest_wamrobust.core.protocols import Env
from pytest_wamrobust.core.results import EpisodeResult

#: --wam-video values: which episodes get a video.
VIDEO_SELECTIONS = ("failures", "all", "none")
#: How Jenkins and GitLab link a file to a JUnit test case (in its system-out).


class VideoSelectionError(UsageError, argparse.ArgumentTypeError):
    """An unknown --wam-video value; argparse prints it as the usage error."""


def parse_video_selection(text: str) -> str:
    value = str(text).strip().lower()
    if value not in VIDEO_SELECTIONS:
        raise VideoSelectionError(
            f"invalid --wam-video {text!r}: choose one of {', '.join(VIDEO_SELECTIONS)}")
    return value


def check_artifacts_dir(folder: str | Path) -> None:
    """Create the video folder and write a probe file in it, once before any episode: a
    file in the way or a read-only folder is then one line, not a traceback per case.
    The folders made for the probe are removed again while empty: a run with nothing
    to record leaves nothing behind."""
    path = Path(folder)
    made = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".wamrobust-probe-"):
            pass
    except OSError as exc:
        reason = "it is a file" if path.is_file() else exc.strerror or str(exc)
        raise UsageError(f"--wam-artifacts {folder} cannot hold the videos ({reason}); "
                         f"pass a folder this user can write") from None
    finally:
        for empty in made:
            try:
                empty.rmdir()
            except OSError:  # not empty: another process is already writing videos there
                break


def video_path(artifacts_dir: str | Path, result: EpisodeResult) -> Path:
    """`<dir>/<policy>/<suite>__<task>__<axis>__L3__s07.mp4`: one file per case, readable."""
    name = result.key.case_id.replace("/", "__")
    return Path(artifacts_dir) / _safe(result.policy or "policy") / f"{name}.mp4"


class VideoRecorder:
    """Step hook that keeps tiled camera frames and writes them when `finish` says so.

    `every` records one frame per that many actions: each frame costs a render of every
    camera, the dominant cost of an episode on CPU. `fps` defaults to the suite's control
    rate divided by `every`, so the video plays in real time.
    """

    def __init__(self, artifacts_dir: str | Path, policy: str = "failures", *,
                 every: int = 1, fps: float | None = None) -> None:
        self.policy = parse_video_selection(policy)
        if every < 1:
            raise UsageError(f"video frame stride must be >= 1, got {every}")
        self.artifacts_dir = Path(artifacts_dir)
        self.every = every
        self.fps = fps
        self.frames: list[np.ndarray] = []
        self._calls = 0

    def __call__(self, env: Env) -> None:
        if self.policy == "none":
            return
        self._calls += 1
        if (self._calls - 1) % self.every:
            return
        if self.fps is None:
            self.fps = float(env.spec.control_hz) / self.every
        observation = env.observe()
        order = [n for n in env.spec.camera_names if n in observation.images]
        self.frames.append(tile_frames(observation.images, order))

    def wants(self, result: EpisodeResult) -> bool:
        return self.policy == "all" or (self.policy == "failures" and not result.success)

    def finish(self, result: EpisodeResult) -> EpisodeResult:
        """Write the video if this outcome is kept, set `result.video`, and forget the frames."""
        try:
            if self.frames and self.wants(result):
                path = video_path(self.artifacts_dir, result)
                write_mp4(self.frames, path, self.fps or 10.0)
                result.video = str(path)
            return result
        finally:
            self.frames = []
            self._calls = 0


def tile_frames(images: Mapping[str, np.ndarray], order: Sequence[str] | None = None) -> np.ndarray:
    """Cameras side by side (shorter ones padded at the bottom), even-sized for H.264."""
    frames = [np.asarray(images[name], dtype=np.uint8) for name in (order or sorted(images))]
    if not frames:
        raise ValueError("no camera images to tile")
    height = max(f.shape[0] for f in frames)
    padded = [np.pad(f[..., :3], ((0, height - f.shape[0]), (0, 0), (0, 0))) for f in frames]
    tiled = np.concatenate(padded, axis=1)
    h, w = tiled.shape[:2]
    return np.pad(tiled, ((0, h % 2), (0, w % 2), (0, 0)))


def write_mp4(frames: Sequence[np.ndarray], path: str | Path, fps: float) -> Path:
    """Encode equally-sized RGB frames as H.264 MP4 (yuv420p: plays in every browser)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise UsageError("--wam-video needs imageio-ffmpeg: "
                         "pip install 'pytest-wamrobust[reports]'") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), fps=fps, codec="libx264", pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p", macro_block_size=1, quality=7)
    writer.send(None)  # start the generator
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
    return path


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
