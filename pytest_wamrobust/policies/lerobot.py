"""`--policy=lerobot:/path/to/pretrained_model`: a LeRobot checkpoint as a Policy.

Loads what `save_pretrained` wrote (config.json, model.safetensors and the policy
pre/post-processor pipelines, which carry the normalisation statistics), maps the
suite's cameras and state onto the checkpoint's feature names, and calls
`predict_action_chunk`, so the harness - not LeRobot's action queue - decides how
many actions of each chunk run. Needs the `lerobot` extra (scripts/install_lerobot.sh).

An ACT checkpoint is a `BatchPolicy`: its chunk is a function of the observation alone
(no sampling, no observation history), so an episode's state is nothing the model
holds and `infer_batch` runs many episodes' observations as one forward pass. Its rows
equal single calls to float rounding, not bit for bit (LeRobot's layers are not
batch-invariant). Sampling policies (diffusion, pi0, ...) seed the global RNG per
episode and keep observation queues in the model, so they stay one episode per instance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pytest_wamrobust.core.model import policy_args, registry
from pytest_wamrobust.core.model.chunking import Chunking, check_replanning
from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.identity import files_digest
from pytest_wamrobust.core.model.protocols import EpisodeInOne, PolicyContext
from pytest_wamrobust.core.model.types import EnvSpec, Observation, PolicyMetadata

IMAGE_PREFIX = "observation.images."
STATE_KEY = "observation.state"
REQUIRED_FILES = ("config.json", "model.safetensors")
#: Default: LeRobot's (torch's) own thread count.
THREADS = policy_args.integer("threads")
#: Default: the checkpoint's n_action_steps.
REPLAN_STEPS = policy_args.integer("replan_steps")
#: Policy types whose chunk depends on the observation alone (batchable, see above).
STATELESS_TYPES = ("act",)


class LeRobotPolicy:
    """One loaded checkpoint; `cameras` maps its image feature -> suite camera name."""

    def __init__(self, model: Any, preprocess: Any, postprocess: Any, metadata: PolicyMetadata,
                 cameras: dict[str, str], image_shapes: dict[str, tuple[int, ...]],
                 has_state: bool) -> None:
        self.metadata = metadata
        self._model = model
        self._pre = preprocess
        self._post = postprocess
        self._cameras = cameras
        self._shapes = image_shapes
        self._has_state = has_state

    def reset(self, task: str, seed: int) -> None:
        import torch

        torch.manual_seed(seed)  # diffusion / flow policies sample noise
        self._model.reset()

    def infer(self, observation: Observation) -> np.ndarray:
        return self._chunks([self._preprocessed(observation)])[0]

    def _preprocessed(self, observation: Observation) -> dict[str, Any]:
        """The observation through the checkpoint's pre-processor: a batch of one."""
        import torch

        batch: dict[str, Any] = {"task": observation.instruction}
        for feature, camera in self._cameras.items():
            batch[feature] = _image_tensor(observation.images[camera], self._shapes[feature])
        if self._has_state:
            batch[STATE_KEY] = torch.as_tensor(np.asarray(observation.state), dtype=torch.float32)
        with torch.inference_mode():
            return dict(self._pre(batch))

    def _chunks(self, batches: list[dict[str, Any]]) -> list[np.ndarray]:
        """One `predict_action_chunk` over the pre-processed batches, one chunk per batch."""
        import torch

        merged = batches[0] if len(batches) == 1 else _concatenated(batches)
        with torch.inference_mode():
            actions = self._post(self._model.predict_action_chunk(merged))
        actions = actions.float().cpu().numpy()
        return [chunk.reshape(-1, chunk.shape[-1]) for chunk in actions]


@dataclass(frozen=True)
class LeRobotEpisode:
    """An episode of a stateless checkpoint: nothing but which one it is."""

    task: str
    seed: int


class BatchedLeRobotPolicy(EpisodeInOne, LeRobotPolicy):
    """A checkpoint of a STATELESS_TYPES type: one instance serves many episodes."""

    def new_episode(self, task: str, seed: int) -> LeRobotEpisode:
        return LeRobotEpisode(task, seed)

    def infer_batch(self, observations: Sequence[Observation],
                    episodes: Sequence[Any]) -> list[np.ndarray]:
        return self._chunks([self._preprocessed(o) for o in observations])


def _concatenated(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Pre-processed batches of one as one batch: tensors and lists joined along rows."""
    import torch

    merged: dict[str, Any] = {}
    for key, first in batches[0].items():
        if isinstance(first, torch.Tensor):
            merged[key] = torch.cat([b[key] for b in batches])
        elif isinstance(first, list):
            merged[key] = [item for b in batches for item in b[key]]
        else:
            merged[key] = first
    return merged


@policy_args.declare(policy_args.DEVICE, THREADS, REPLAN_STEPS)
def load_lerobot_policy(path: str, ctx: PolicyContext) -> LeRobotPolicy:
    """The registry's adapter for `--policy=lerobot:PATH`."""
    directory = checkpoint_dir(path)
    device = policy_args.DEVICE.read(ctx)
    threads = THREADS.read(ctx)
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors
    except ImportError as exc:
        raise UsageError(f"--policy=lerobot:{path} needs LeRobot ({one_line(exc)}); install it "
                         f"with `pip install 'pytest-wamrobust[lerobot]'` or "
                         f"scripts/install_lerobot.sh") from None
    try:
        config = PreTrainedConfig.from_pretrained(directory, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any load fault is one line about the checkpoint
        raise UsageError(
            f"cannot read the LeRobot config in {directory}: {one_line(exc)}") from None
    try:
        cameras, shapes, has_state = _map_features(config, ctx.env_spec, directory)
    except UsageError as exc:
        raise UsageError(f"{exc}{registry.suite_hint(partial(_fits, config, directory))}") \
            from None
    config.device = device
    try:
        model = get_policy_class(config.type).from_pretrained(directory, config=config,
                                                              local_files_only=True)
        preprocess, postprocess = make_pre_post_processors(
            config, pretrained_path=str(directory),
            preprocessor_overrides={"device_processor": {"device": device}})
    except Exception as exc:  # noqa: BLE001
        raise UsageError(
            f"cannot load the LeRobot checkpoint {directory}: {one_line(exc)}") from None
    model.eval()
    metadata = checkpoint_metadata({key: getattr(config, key, None) for key in CHUNK_KEYS},
                                   ctx, directory)
    kind = BatchedLeRobotPolicy if config.type in STATELESS_TYPES else LeRobotPolicy
    return kind(model, preprocess, postprocess, metadata, cameras, shapes, has_state)


def preflight(path: str, ctx: PolicyContext) -> Chunking:
    """The chunking the run will use, read from config.json without importing LeRobot: a
    replan_steps the checkpoint's chunk cannot serve is one line before any episode."""
    directory = checkpoint_dir(path)
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the LeRobot config in {directory}: {one_line(exc)}") \
            from None
    if not isinstance(config, dict):
        raise UsageError(f"cannot read the LeRobot config in {directory}: not a JSON object")
    meta = checkpoint_metadata(config, ctx, directory)
    return Chunking.of(meta.chunk_length, meta.replan_steps, ctx.options)


#: The config fields that decide the chunking (which exist depends on the policy type).
CHUNK_KEYS = ("type", "chunk_size", "horizon", "n_action_steps")


def checkpoint_metadata(config: Mapping[str, Any], ctx: PolicyContext,
                        directory: Path) -> PolicyMetadata:
    """The chunk is the checkpoint's (chunk_size, horizon or n_action_steps); the harness
    runs `--policy-arg replan_steps` of it, by default LeRobot's own n_action_steps."""
    chunk = int(config.get("chunk_size") or config.get("horizon")
                or config.get("n_action_steps") or 1)
    replan = REPLAN_STEPS.read(ctx)
    if replan:
        check_replanning(replan, chunk, f"checkpoint {directory}")
    else:
        replan = min(int(config.get("n_action_steps") or chunk), chunk)
    return PolicyMetadata(f"lerobot-{config.get('type')}", chunk, replan)


def fingerprint(path: str, ctx: PolicyContext) -> str:
    """The checkpoint's identity for --wam-resume: a digest of the folder's files."""
    return files_digest(p for p in checkpoint_dir(path).iterdir() if p.is_file())


def checkpoint_dir(path: str) -> Path:
    """The folder `save_pretrained` wrote, checked without importing LeRobot (the registry
    calls this at start-up, so a wrong path is one line before any episode)."""
    directory = Path(path).expanduser()
    if not directory.is_dir():
        problem = "a file, not a folder" if directory.exists() else "no such folder"
    else:
        missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
        problem = f"no {' / '.join(missing)} there" if missing else ""
    if problem:
        raise UsageError(
            f"{path!r} is not a LeRobot checkpoint ({problem}); pass the "
            f"pretrained_model folder save_pretrained wrote, e.g. "
            f"outputs/train/RUN/checkpoints/last/pretrained_model")
    return directory


def _map_features(config: Any, spec: EnvSpec,
                  directory: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]], bool]:
    """Checkpoint feature -> suite camera, by name when they match, else by role order."""
    images = {name: tuple(feature.shape) for name, feature in config.input_features.items()
              if name.startswith(IMAGE_PREFIX)}
    suite_cameras = [c.name for c in sorted(spec.cameras, key=lambda c: c.role != "third_person")]
    by_name = {f: f[len(IMAGE_PREFIX):] for f in images if f[len(IMAGE_PREFIX):] in suite_cameras}
    rest_features = [f for f in images if f not in by_name]
    rest_cameras = [c for c in suite_cameras if c not in by_name.values()]
    if len(rest_features) > len(rest_cameras):
        raise UsageError(f"checkpoint {directory} reads {len(images)} cameras "
                         f"({', '.join(images)}) but suite {spec.suite!r} has "
                         f"{len(spec.cameras)} ({', '.join(spec.camera_names)})")
    cameras = {**by_name, **dict(zip(rest_features, rest_cameras, strict=False))}
    state = config.input_features.get(STATE_KEY)
    if state is not None and tuple(state.shape) != (spec.state_dim,):
        raise UsageError(f"checkpoint {directory} expects a state of shape {tuple(state.shape)} "
                         f"but suite {spec.suite!r} gives ({spec.state_dim},)")
    action = config.output_features.get("action")
    if action is None or tuple(action.shape) != (spec.action_dim,):
        shape = tuple(action.shape) if action is not None else "none"
        raise UsageError(f"checkpoint {directory} outputs actions of shape {shape} but suite "
                         f"{spec.suite!r} takes ({spec.action_dim},): {spec.action_semantics}")
    return cameras, images, state is not None


def _fits(config: Any, directory: Path, spec: EnvSpec) -> bool:
    try:
        _map_features(config, spec, directory)
    except UsageError:
        return False
    return True


def _image_tensor(image: np.ndarray, shape: tuple[int, ...]) -> Any:
    """uint8 (H, W, 3) -> float (3, h, w) in [0, 1] at the checkpoint's resolution."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    if tuple(tensor.shape[1:]) != tuple(shape[1:]):
        tensor = torch.nn.functional.interpolate(tensor[None], size=tuple(shape[1:]),
                                                 mode="bilinear", align_corners=False)[0]
    return tensor
