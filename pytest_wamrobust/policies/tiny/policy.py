"""`--policy=tiny-vla` / `--policy=tiny-wam` (tabletop) and `--policy=tiny-vla-libero` (the
real LIBERO, trained on libero_spatial): the packaged checkpoints behind the Policy protocol.

Torch runs with a fixed thread count (`--policy-arg threads=N`, default 1) and the WAM's
initial noise comes from a CPU generator seeded by `reset`, so a case acts the same on
`-n 1` and `-n 2` (and draws the same noise on `--policy-arg device=cuda`).

That generator is the whole of an episode's state (`TinyEpisode`), kept apart from the
network, so `wamrobust serve` runs one network for every connection and batches their
requests (`infer_batch`: one pass per `batch_tile` rows, each row bit-identical to the
episode run alone).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_wamrobust.core.model import policy_args, registry
from pytest_wamrobust.core.model.chunking import Chunking
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import files_digest, fingerprinted
from pytest_wamrobust.core.model.protocols import EpisodeInOne, PolicyContext
from pytest_wamrobust.core.model.types import EnvSpec, Observation, PolicyMetadata
from pytest_wamrobust.policies.tiny.checkpoint import Checkpoint, packaged_dir
from pytest_wamrobust.policies.tiny.features import downsample, state_features

if TYPE_CHECKING:  # torch loads with the weights
    from pytest_wamrobust.policies.tiny.model import ModelConfig

REPLAN_STEPS = 5
THREADS = policy_args.integer("threads", 1)
#: A folder holding `<name>.json` / `.safetensors` (default: the packaged weights).
WEIGHTS = policy_args.text("weights")
ARGS = (policy_args.DEVICE, THREADS, WEIGHTS)
#: Instructions whose embedding is kept (the language axis rewrites a handful per task).
TEXT_CACHE = 256


@dataclass
class TinyEpisode:
    """One episode's state: the generator of the world model's initial noise."""

    generator: Any  # torch.Generator, seeded by reset


class TinyPolicy(EpisodeInOne):
    def __init__(self, name: str, checkpoint: Checkpoint, env_spec: EnvSpec, threads: int = 1,
                 device: str = "cpu") -> None:
        import torch

        from pytest_wamrobust.policies.tiny.model import build

        cfg = checkpoint.config
        if not _fits(cfg, env_spec):
            raise UsageError(
                f"{name} was trained on suites with cameras {list(cfg.cameras)}, "
                f"state 8, action {cfg.action_dim}; suite {env_spec.suite!r} has cameras "
                f"{list(env_spec.camera_names)}, state {env_spec.state_dim}, "
                f"action {env_spec.action_dim}"
                + registry.suite_hint(lambda spec: _fits(cfg, spec)))
        torch.set_num_threads(threads)
        self._torch = torch
        self._device = torch.device(device)
        self.metadata = PolicyMetadata(name, cfg.chunk_length, REPLAN_STEPS, family=cfg.kind)
        self.cfg, self.vocab = cfg, checkpoint.vocab
        self._mean, self._std = checkpoint.state_mean, checkpoint.state_std
        self.model = build(cfg)
        try:
            self.model.load_state_dict(checkpoint.weights)
        except RuntimeError:
            raise UsageError(f"{name}: the weights do not fit this version's network; retrain them "
                             f"with `wamrobust train {name}`") from None
        self.model.to(self._device).eval()
        self._text: dict[str, Any] = {}

    def new_episode(self, task: str, seed: int) -> TinyEpisode:
        return TinyEpisode(self._torch.Generator().manual_seed(seed))

    def _embedding(self, instruction: str) -> Any:
        """The instruction's mean word embedding (1, word_dim), computed once per text."""
        if instruction not in self._text:
            if len(self._text) >= TEXT_CACHE:
                self._text.clear()
            tokens = self._torch.from_numpy(self.vocab.encode(instruction))[None]
            with self._torch.inference_mode():
                self._text[instruction] = self.model.encoder.text(tokens.to(self._device))
        return self._text[instruction]

    def _batch(self, rows: list[Any]) -> Any:
        """Rows stacked; a batch of one as it is (its memory layout picks the conv kernel)."""
        return rows[0] if len(rows) == 1 else self._torch.cat(rows)

    def _decide(self, images: list[Any], text: Any, state: Any, noise: Any) -> Any:
        """These rows' chunks, each exactly as it would be alone (`ModelConfig.batch_tile`)."""
        count, tile = len(text), self.cfg.batch_tile
        if tile == 1:
            return self.model.decide(images, text, state, noise, rows=count > 1)
        torch = self._torch

        def tiles(rows: Any) -> list[Any]:
            padded = torch.cat([rows, rows.new_zeros(-count % tile, *rows.shape[1:])])
            return list(padded.split(tile))

        per_tile = [tiles(t) for t in (*images, text, state)]
        noises = tiles(noise) if noise is not None else [None] * len(per_tile[0])
        chunks = [self.model.decide(list(rows[:-2]), rows[-2], rows[-1], n)
                  for *rows, n in zip(*per_tile, noises, strict=True)]
        return torch.cat(chunks)[:count]

    def infer_batch(self, observations: Sequence[Observation],
                    episodes: Sequence[Any]) -> list[np.ndarray]:
        torch = self._torch
        device = self._device
        size = self.cfg.image_size
        images = [self._batch([torch.from_numpy(downsample(o.images[c], size)).to(device)
                          .permute(2, 0, 1)[None].float().div(255.0).sub(0.5)
                          for o in observations]) for c in self.cfg.cameras]
        state = torch.from_numpy(np.stack([(state_features(o.state) - self._mean) / self._std
                                           for o in observations])).to(device)
        text = torch.cat([self._embedding(o.instruction) for o in observations])
        noise = None
        drawn = [episode.generator.get_state() for episode in episodes]
        try:
            if self.cfg.kind == "wam":  # each row from its own episode's generator
                noise = torch.cat([torch.randn(1, self.model.frame_dim, generator=e.generator)
                                   for e in episodes]).to(device)
            with torch.inference_mode():
                chunks = self._decide(images, text, state, noise)
        except Exception:
            for episode, before in zip(episodes, drawn, strict=True):
                episode.generator.set_state(before)  # a failed batch is re-run row by row
            raise
        return [c.astype(np.float64).clip(-1.0, 1.0) for c in chunks.cpu().numpy()]


def _fits(cfg: ModelConfig, env_spec: EnvSpec) -> bool:
    """Whether a suite gives the checkpoint every camera it reads and its state and actions."""
    return (all(c in env_spec.camera_names for c in cfg.cameras)
            and env_spec.action_dim == cfg.action_dim and env_spec.state_dim == 8)


def load_policy(name: str, ctx: PolicyContext) -> TinyPolicy:
    """The packaged `name`, or `--policy-arg weights=DIR` holding `<name>.json/.safetensors`."""
    return TinyPolicy(name, Checkpoint.load(weights_dir(ctx), name), ctx.env_spec,
                      THREADS.read(ctx), policy_args.DEVICE.read(ctx))


def weights_dir(ctx: PolicyContext) -> Path:
    weights = WEIGHTS.read(ctx)
    return Path(weights) if weights else packaged_dir()


def weights_fingerprint(name: str) -> Callable[[PolicyContext], str]:
    """The digest of `name`'s weights and config, the policy's identity for --wam-resume
    (a file that is missing is the factory's one line to give, not this)."""

    def fingerprint(ctx: PolicyContext) -> str:
        paths = [weights_dir(ctx) / f"{name}{suffix}" for suffix in (".json", ".safetensors")]
        return files_digest(p for p in paths if p.is_file())

    return fingerprint


def checkpoint_chunking(name: str) -> Callable[[PolicyContext], Chunking | None]:
    """The registry's start-up check: the chunk from `name`'s config file, without torch,
    for the run's header (a file that is missing is the factory's one line to give)."""

    def preflight(ctx: PolicyContext) -> Chunking | None:
        try:
            config = json.loads((weights_dir(ctx) / f"{name}.json").read_text())["config"]
            return Chunking.of(int(config["chunk_length"]), REPLAN_STEPS, ctx.options)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    return preflight


@fingerprinted(weights_fingerprint("tiny-vla"))
@policy_args.declare(*ARGS)
def make_tiny_vla(ctx: PolicyContext) -> TinyPolicy:
    return load_policy("tiny-vla", ctx)


@fingerprinted(weights_fingerprint("tiny-wam"))
@policy_args.declare(*ARGS)
def make_tiny_wam(ctx: PolicyContext) -> TinyPolicy:
    return load_policy("tiny-wam", ctx)


@fingerprinted(weights_fingerprint("tiny-vla-libero"))
@policy_args.declare(*ARGS)
def make_tiny_vla_libero(ctx: PolicyContext) -> TinyPolicy:
    return load_policy("tiny-vla-libero", ctx)


make_tiny_vla.preflight = checkpoint_chunking("tiny-vla")  # type: ignore[attr-defined]
make_tiny_wam.preflight = checkpoint_chunking("tiny-wam")  # type: ignore[attr-defined]
make_tiny_vla_libero.preflight = checkpoint_chunking(  # type: ignore[attr-defined]
    "tiny-vla-libero")
