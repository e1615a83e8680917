"""`--policy=tiny-vla` / `--policy=tiny-wam`: the packaged checkpoints behind the Policy protocol.

Torch runs with a fixed thread count (`--policy-arg threads=N`, default 1) and the WAM's
initial noise comes from a CPU generator seeded by `reset`, so a case acts the same on
`-n 1` and `-n 2` (and draws the same noise on `--policy-arg device=cuda`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_wamrobust.core import policy_args
from pytest_wamrobust.core.errors import UsageError
from pytest_wamrobust.core.protocols import PolicyContext
from pytest_wamrobust.core.types import EnvSpec, Observation, PolicyMetadata
from pytest_wamrobust.policies.tiny.checkpoint import Checkpoint, packaged_dir
from pytest_wamrobust.policies.tiny.features import downsample, state_features

REPLAN_STEPS = 5
THREADS = policy_args.integer("threads", 1)
#: A folder holding `<name>.json` / `.safetensors` (default: the packaged weights).
WEIGHTS = policy_args.text("weights")
ARGS = (policy_args.DEVICE, THREADS, WEIGHTS)


class TinyPolicy:
    def __init__(self, name: str, checkpoint: Checkpoint, env_spec: EnvSpec, threads: int = 1,
                 device: str = "cpu") -> None:
        import torch

        from pytest_wamrobust.policies.tiny.model import build

        cfg = checkpoint.config
        missing = [c for c in cfg.cameras if c not in env_spec.camera_names]
        if missing or env_spec.action_dim != cfg.action_dim or env_spec.state_dim != 8:
            raise UsageError(
                f"{name} was trained on tabletop-like suites (cameras {list(cfg.cameras)}, "
                f"state 8, action {cfg.action_dim}); suite {env_spec.suite!r} has cameras "
                f"{list(env_spec.camera_names)}, state {env_spec.state_dim}, "
                f"action {env_spec.action_dim}")
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
        self._generator = torch.Generator().manual_seed(0)
        self._tokens: tuple[str, object] | None = None

    def reset(self, task: str, seed: int) -> None:
        self._generator = self._torch.Generator().manual_seed(seed)

    def _instruction(self, text: str):
        if self._tokens is None or self._tokens[0] != text:
            tokens = self._torch.from_numpy(self.vocab.encode(text))[None]
            self._tokens = (text, tokens.to(self._device))
        return self._tokens[1]

    def infer(self, observation: Observation) -> np.ndarray:
        torch = self._torch
        device = self._device
        images = [torch.from_numpy(downsample(observation.images[c], self.cfg.image_size))
                  .to(device).permute(2, 0, 1)[None].float().div(255.0).sub(0.5)
                  for c in self.cfg.cameras]
        state = torch.from_numpy((state_features(observation.state) - self._mean) / self._std)
        state = state[None].to(device)
        tokens = self._instruction(observation.instruction)
        with torch.inference_mode():
            if self.cfg.kind == "wam":
                noise = torch.randn(1, self.model.frame_dim, generator=self._generator)
                chunk, _ = self.model(images, tokens, state, noise.to(device))
            else:
                chunk = self.model(images, tokens, state)
        return chunk[0].cpu().numpy().astype(np.float64).clip(-1.0, 1.0)


def load_policy(name: str, ctx: PolicyContext) -> TinyPolicy:
    """The packaged `name`, or `--policy-arg weights=DIR` holding `<name>.json/.safetensors`."""
    weights = WEIGHTS.read(ctx)
    folder = Path(weights) if weights else packaged_dir()
    return TinyPolicy(name, Checkpoint.load(folder, name), ctx.env_spec, THREADS.read(ctx),
                      policy_args.DEVICE.read(ctx))


@policy_args.declare(*ARGS)
def make_tiny_vla(ctx: PolicyContext) -> TinyPolicy:
    return load_policy("tiny-vla", ctx)


@policy_args.declare(*ARGS)
def make_tiny_wam(ctx: PolicyContext) -> TinyPolicy:
    return load_policy("tiny-wam", ctx)
