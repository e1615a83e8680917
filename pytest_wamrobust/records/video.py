"""Failure videos: every camera of an episode, side by side, as an MP4 linked from JUnit.

`VideoRecorder` is a `run_episode` step hook. Frames stay in memory and are encoded
(H.264 through the ffmpeg binary bundled with imageio-ffmpeg, so no system ffmpeg is
needed) only when the episode's outcome is one the policy keeps: with `failures`, the
passing majority of a run costs rendering time but no disk. The JUnit case links the
file twice: the `wam.video` property and the `[[ATTACHMENT|path]]` line in system-out
that Jenkins' JUnit attachments plugin and GitLab's test reports read.

A video never costs an outcome: one that cannot be recorded or written (a full disk, a
file size limit, a folder gone read-only) is one `VideoWarning` line with the cause, the
episode keeps its result, and only a complete file is ever linked.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, cast

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.protocols import Env
from pytest_wamrobust.core.model.results import EpisodeResult

#: --wam-video values: which episodes get a video.
VIDEO_SELECTIONS = ("failures", "all", "none")
#: How Jenkins and GitLab link a file to a JUnit test case (in its system-out).


class VideoWarning(UserWarning):
    """A video that could not be recorded or written; its episode's result stands."""


def parse_video_selection(text: str) -> str:
    value = str(text).strip().lower()
    if value not in VIDEO_SELECTIONS:
        raise UsageError(
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
        #: why this episode's frames were dropped ("" while recording)
        self._lost = ""

    def __call__(self, env: Env) -> None:
        if self.policy == "none" or self._lost:
            return
        self._calls += 1
        if (self._calls - 1) % self.every:
            return
        if self.fps is None:
            self.fps = float(env.spec.control_hz) / self.every
        try:
            observation = env.observe()
            order = [n for n in env.spec.camera_names if n in observation.images]
            self.frames.append(tile_frames(observation.images, order))
        except Exception as exc:  # noqa: BLE001 - inside the episode: the video's loss only
            self._lost, self.frames = f"recording failed: {one_line(exc)}", []

    def wants(self, result: EpisodeResult) -> bool:
        return self.policy == "all" or (self.policy == "failures" and not result.success)

    def finish(self, result: EpisodeResult) -> EpisodeResult:
        """Write the video if this outcome is kept, set `result.video` once the file is
        complete, and forget the frames; a video lost is a VideoWarning, never an error."""
        try:
            if (self.frames or self._lost) and self.wants(result):
                lost = self._lost or self._write(result)
                if lost:
                    with warnings.catch_warnings():  # shown even under -W error: not a fault
                        warnings.simplefilter("always", VideoWarning)
                        warnings.warn(VideoWarning(
                            f"video of {result.key.case_id} not written ({lost}); its "
                            f"{result.status} result stands, and JUnit links no video"),
                            stacklevel=2)
        finally:
            self.frames = []
            self._calls = 0
            self._lost = ""
        return result

    def _write(self, result: EpisodeResult) -> str:
        """Write the video and set `result.video`; "" or why it could not be written."""
        path = video_path(self.artifacts_dir, result)
        try:
            write_mp4(self.frames, path, self.fps or 10.0)
        except OSError as exc:
            return exc.strerror or str(exc)
        except Exception as exc:  # noqa: BLE001 - a video's loss, never the episode's
            return one_line(exc)
        result.video = str(path)
        return ""


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
    """Encode equally-sized RGB frames as H.264 MP4 (yuv420p: plays in every browser).

    ffmpeg runs here rather than through imageio-ffmpeg's writer, which ignores its exit
    status: a file ffmpeg could not finish (a full disk, a file size limit) would stay
    behind, truncated. Such a file is removed, and OSError carries ffmpeg's cause."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise UsageError("--wam-video needs imageio-ffmpeg: "
                         "pip install 'pytest-wamrobust[reports]'") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(Fraction(fps).limit_denominator()), "-i", "-", "-an",
               "-vcodec", "libx264", "-pix_fmt", "yuv420p", "-crf", "15",  # imageio's quality 7
               str(path)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as encoder:
        pipe, errors = cast(IO[bytes], encoder.stdin), cast(IO[bytes], encoder.stderr)
        log: list[bytes] = []
        reader = threading.Thread(target=lambda: log.append(errors.read()), daemon=True)
        reader.start()  # drained while frames go in, so a chatty ffmpeg never blocks
        try:
            for frame in frames:
                pipe.write(np.ascontiguousarray(frame).data)
            pipe.close()
        except BrokenPipeError:  # ffmpeg stopped early: its status and log say why
            with contextlib.suppress(BrokenPipeError):
                pipe.close()
        status = encoder.wait()
        reader.join()
    if status != 0:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
        raise OSError(_ffmpeg_cause(b"".join(log).decode(errors="replace"), status))
    return path


def _ffmpeg_cause(log: str, status: int) -> str:
    """ffmpeg's first error, the OS's reason where it gives one ("No space left on device")."""
    lines = [re.sub(r"^\[[^]]*\]\s*", "", line).strip() for line in log.splitlines()]
    first = next((line for line in lines if line), "")
    if first:
        return first.rsplit(": ", 1)[-1]
    if status < 0:
        return f"ffmpeg was killed by {signal.Signals(-status).name}"
    return f"ffmpeg exited with status {status}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
