"""The two tiny networks: a VLA (observation -> action chunk) and a world action model
(observation -> imagined future frame, by iterative denoising -> action chunk).

Both share `ObservationEncoder` (a 3-conv CNN with keypoints per camera, the instruction's mean word
embedding and the state), so the only difference the robustness table shows is the
world model's imagination step.

A served batch of episodes must act exactly as each would in-process, bit for bit. Two
ways, chosen per checkpoint by `ModelConfig.batch_tile`: 1 (tiny-vla) runs a lone row as
a batch of one and a batch with `rows=True` (see `run_rows`); N > 1 (tiny-wam) runs every
call, a lone row included, on tiles of N rows (see `TinyPolicy`), so the kernels always
see one shape and a row's arithmetic cannot depend on its batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from pytest_wamrobust.policies.tiny.features import STATE_FEATURES


@dataclass(frozen=True)
class ModelConfig:
    kind: str  # "vla" or "wam"
    cameras: tuple[str, ...]
    vocab_size: int
    image_size: int = 64
    chunk_length: int = 10
    action_dim: int = 7
    width: int = 256
    word_dim: int = 32
    #: WAM only: the imagined future is the third-person frame this many steps ahead,
    #: at future_size pixels, refined in denoise_steps iterations.
    future_size: int = 16
    denoise_steps: int = 8
    #: Rows per forward pass at inference, zero-padded (1: a lone row runs alone).
    batch_tile: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**{**data, "cameras": tuple(data["cameras"])})


#: The WAM's tile: its denoiser's matrix products cost about the same for 1 row and 8
#: on a CPU, so a served batch of 8 costs one pass and every row is exact.
WAM_BATCH_TILE = 8


def run_rows(layers: nn.Module, x: torch.Tensor, rows: bool) -> torch.Tensor:
    """`layers(x)`; with `rows`, every row bit-identical to `layers(row)` alone.

    CPU kernels block a Linear's or Conv2d's batch by its size, so a row of a plain
    batch differs from the same row alone in the last float bits, and over an episode's
    contact dynamics that can flip its outcome. So Linear layers run as a batch of
    matrix-vector products (`baddbmm` of one-row matrices: the batch-of-one's own
    arithmetic, still one call for the batch); activations work per row already, and
    `CameraEncoder` runs its 3x3 convolutions row by row (the batching tests check it all).
    """
    if not rows:
        return layers(x)
    if isinstance(layers, nn.Sequential):
        for layer in layers:
            x = run_rows(layer, x, rows)
        return x
    if isinstance(layers, nn.Linear):
        weight = layers.weight.t().expand(x.shape[0], *layers.weight.t().shape)
        if layers.bias is None:
            return torch.bmm(x[:, None, :], weight)[:, 0]
        return torch.baddbmm(layers.bias.expand(x.shape[0], 1, -1), x[:, None, :], weight)[:, 0]
    if isinstance(layers, nn.Conv2d):
        raise TypeError("convolutions run row by row in CameraEncoder, not in run_rows")
    return layers(x)


class SpatialSoftmax(nn.Module):
    """Per channel, the expected (x, y) of its softmax over the map: where a learned
    detector fires (robomimic's keypoints), the position signal a grasp needs."""

    xs: torch.Tensor  # buffers, registered in __init__
    ys: torch.Tensor

    def __init__(self, side: int) -> None:
        super().__init__()
        coords = torch.linspace(-1.0, 1.0, side)
        self.register_buffer("xs", coords.repeat(side), persistent=False)
        self.register_buffer("ys", coords.repeat_interleave(side), persistent=False)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(maps.flatten(2) / self.log_temperature.exp(), dim=-1)
        return torch.cat([weights @ self.xs, weights @ self.ys], dim=-1)


class CameraEncoder(nn.Module):
    """A 4x4 patch stem (colour/edge detectors on a 16x16 grid) feeding both keypoints
    (spatial softmax: where) and two stride-2 convolutions (what): (3, S, S) -> out_dim.

    The patch stem is 2.6x cheaper to train on this CPU than a 3x3 stride-2 stem.
    """

    def __init__(self, out_dim: int, size: int) -> None:
        super().__init__()
        grid = size // 4
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 4, stride=4), nn.ReLU())
        self.keypoints = SpatialSoftmax(grid)
        self.convs = nn.Sequential(
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GroupNorm(8, 64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.GroupNorm(8, 64), nn.ReLU(), nn.Flatten())
        self.out = nn.Sequential(nn.Linear(64 * (grid // 4) ** 2 + 64, out_dim), nn.ReLU())

    def forward(self, image: torch.Tensor, rows: bool = False) -> torch.Tensor:
        stem = self.stem(image)  # the patch stem's kernel does not depend on the batch
        if rows:  # the 3x3 convolutions' does (size 1 takes another path): row by row
            what = torch.cat([self.convs(stem[i][None]) for i in range(stem.shape[0])])
        else:
            what = self.convs(stem)
        return run_rows(self.out, torch.cat([what, self.keypoints(stem)], dim=-1), rows)


class ObservationEncoder(nn.Module):
    """Images + instruction tokens + state -> one context vector of `width`."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cameras = nn.ModuleList(CameraEncoder(128, cfg.image_size) for _ in cfg.cameras)
        self.words = nn.Embedding(cfg.vocab_size, cfg.word_dim, padding_idx=0)
        fused = 128 * len(cfg.cameras) + cfg.word_dim + STATE_FEATURES
        self.fuse = nn.Sequential(nn.Linear(fused, cfg.width), nn.ReLU(),
                                  nn.Linear(cfg.width, cfg.width), nn.ReLU())

    def forward(self, images: list[torch.Tensor], tokens: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        return self.fuse_features(images, self.text(tokens), state)

    def text(self, tokens: torch.Tensor) -> torch.Tensor:
        """The instructions' mean word embeddings, (B, T) tokens -> (B, word_dim)."""
        mask = (tokens > 0).float().unsqueeze(-1)
        return (self.words(tokens) * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def fuse_features(self, images: list[torch.Tensor], text: torch.Tensor,
                      state: torch.Tensor, rows: bool = False) -> torch.Tensor:
        feats = [enc(img, rows) for enc, img in zip(self.cameras, images, strict=True)]
        return run_rows(self.fuse, torch.cat([*feats, text, state], dim=-1), rows)


def action_head(in_dim: int, cfg: ModelConfig) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, cfg.width), nn.ReLU(),
                         nn.Linear(cfg.width, cfg.chunk_length * cfg.action_dim))


class TinyVLA(nn.Module):
    """p(a_t | h_t): the action chunk straight from the current observation."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = ObservationEncoder(cfg)
        self.head = action_head(cfg.width, cfg)

    def forward(self, images, tokens, state) -> torch.Tensor:
        return self.decide(images, self.encoder.text(tokens), state)

    def decide(self, images: list[torch.Tensor], text: torch.Tensor, state: torch.Tensor,
               noise: torch.Tensor | None = None, rows: bool = False) -> torch.Tensor:
        """The action chunks from encoded instructions (`noise` is unused: no sampling)."""
        ctx = self.encoder.fuse_features(images, text, state, rows)
        return run_rows(self.head, ctx, rows).view(-1, self.cfg.chunk_length, self.cfg.action_dim)


def noise_levels(steps: int) -> torch.Tensor:
    """Geometric sigma schedule from 1.0 down to 0.02 (descending), `steps` long."""
    return torch.exp(torch.linspace(math.log(1.0), math.log(0.02), steps))


class TinyWAM(nn.Module):
    """p(h_{t+1}, a_t | h_t): denoise the future frame, then act conditioned on it.

    The denoiser predicts the clean future frame from a noisy one, its noise level and
    the context; inference starts from seeded Gaussian noise and refines it
    `denoise_steps` times (deterministic DDIM-style updates), so each chunk costs that
    many extra network passes - the world model's price, as in the study.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.frame_dim = 3 * cfg.future_size * cfg.future_size
        self.encoder = ObservationEncoder(cfg)
        self.denoiser = nn.Sequential(
            nn.Linear(self.frame_dim + cfg.width + 1, 512), nn.ReLU(),
            nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, self.frame_dim))
        self.future_encoder = nn.Sequential(nn.Linear(self.frame_dim, cfg.width), nn.ReLU())
        self.head = action_head(2 * cfg.width, cfg)

    def denoise(self, noisy: torch.Tensor, sigma: torch.Tensor, ctx: torch.Tensor,
                rows: bool = False) -> torch.Tensor:
        """Estimate of the clean future frame (flattened, in [-0.5, 0.5])."""
        return run_rows(self.denoiser, torch.cat([noisy, ctx, sigma.log().view(-1, 1)], dim=-1),
                        rows)

    def act(self, ctx: torch.Tensor, future: torch.Tensor, rows: bool = False) -> torch.Tensor:
        features = torch.cat([ctx, run_rows(self.future_encoder, future, rows)], dim=-1)
        return run_rows(self.head, features, rows).view(-1, self.cfg.chunk_length,
                                                        self.cfg.action_dim)

    def imagine(self, ctx: torch.Tensor, noise: torch.Tensor, rows: bool = False) -> torch.Tensor:
        """Iterative refinement from pure noise to the predicted future frame."""
        sigmas = noise_levels(self.cfg.denoise_steps).to(noise.device)
        x = noise * sigmas[0]
        estimate = x
        for i, sigma in enumerate(sigmas):
            estimate = self.denoise(x, sigma.expand(x.shape[0]), ctx, rows)
            if i + 1 < len(sigmas):  # DDIM (eta=0): keep the implied noise direction
                eps = (x - estimate) / sigma
                x = estimate + sigmas[i + 1] * eps
        return estimate

    def forward(self, images, tokens, state,
                noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ctx = self.encoder(images, tokens, state)
        future = self.imagine(ctx, noise)
        return self.act(ctx, future), future

    def decide(self, images: list[torch.Tensor], text: torch.Tensor, state: torch.Tensor,
               noise: torch.Tensor | None = None, rows: bool = False) -> torch.Tensor:
        """The action chunks from encoded instructions and each row's initial noise."""
        if noise is None:
            raise ValueError("the world action model samples: decide() needs its noise")
        ctx = self.encoder.fuse_features(images, text, state, rows)
        return self.act(ctx, self.imagine(ctx, noise, rows), rows)


def build(cfg: ModelConfig) -> TinyVLA | TinyWAM:
    kinds: dict[str, type[TinyVLA] | type[TinyWAM]] = {"vla": TinyVLA, "wam": TinyWAM}
    return kinds[cfg.kind](cfg)
