"""Behaviour cloning of the tiny policies from oracle demos, deterministic given a seed.

Every random choice (initialisation, batch order, image shifts, word dropout, noise
levels) comes from one seed, the thread count is fixed, and training runs a fixed
number of steps (not a time budget), so the same command gives the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.policies.tiny.checkpoint import Checkpoint
from pytest_wamrobust.policies.tiny.demos import iter_episodes
from pytest_wamrobust.policies.tiny.features import downsample, state_features
from pytest_wamrobust.policies.tiny.model import WAM_BATCH_TILE, ModelConfig, noise_levels
from pytest_wamrobust.policies.tiny.vocab import UNK, Vocabulary

#: Random image shift in training; small, since absolute position tells where the cube is.
SHIFT_PX = 1
WORD_DROPOUT = 0.1
FUTURE_WEIGHT = 1.0


@dataclass
class DemoArrays:
    """All demo steps as flat arrays (N = total steps)."""

    images: dict[str, np.ndarray]  # camera -> (N, S, S, 3) uint8
    states: np.ndarray  # (N, 14) features
    tokens: np.ndarray  # (N, T) int64
    chunks: np.ndarray  # (N, H, 7) oracle plans
    futures: np.ndarray  # (N, F, F, 3) uint8 third-person frame chunk_length steps ahead
    vocab: Vocabulary
    episodes: int


def load_demos(root: Path, cameras: tuple[str, ...], chunk_length: int,
               future_size: int) -> DemoArrays:
    episodes = list(iter_episodes(root))
    vocab = Vocabulary.build(e.instruction for e in episodes)
    images: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
    states, tokens, chunks, futures = [], [], [], []
    for ep in episodes:
        missing = [c for c in cameras if c not in ep.images]
        if missing:
            raise UsageError(f"demos under {root} lack cameras {missing}; re-record them")
        if ep.states.shape[1] != 8 or ep.plans.shape[2] != 7:
            raise UsageError(f"demos under {root} have {ep.states.shape[1]}-d states and "
                             f"{ep.plans.shape[2]}-d actions; the tiny policies read an 8-d "
                             "state (eef position, axis-angle, 2 fingers) and act in 7-d")
        if ep.plans.shape[1] < chunk_length:
            raise UsageError(f"demos under {root} hold {ep.plans.shape[1]}-step plans; "
                             f"need {chunk_length}")
        steps = len(ep.states)
        for c in cameras:
            images[c].append(ep.images[c])
        states.append(np.stack([state_features(s) for s in ep.states]))
        tokens.append(np.repeat(vocab.encode(ep.instruction)[None], steps, axis=0))
        chunks.append(ep.plans[:, :chunk_length])
        third = ep.images[cameras[0]]
        ahead = np.minimum(np.arange(steps) + chunk_length, steps - 1)
        futures.append(np.stack([downsample(third[i], future_size) for i in ahead]))
    return DemoArrays({c: np.concatenate(v) for c, v in images.items()}, np.concatenate(states),
                      np.concatenate(tokens), np.concatenate(chunks).astype(np.float32),
                      np.concatenate(futures), vocab, len(episodes))


def _to_images(torch, batch: np.ndarray, shifts: np.ndarray | None):
    """uint8 (B, S, S, 3) -> float (B, 3, S, S) in [-0.5, 0.5], optionally shifted per sample."""
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255.0).sub(0.5)
    if shifts is None:
        return x
    size = x.shape[-1]
    padded = torch.nn.functional.pad(x, (SHIFT_PX,) * 4, mode="replicate")
    return torch.stack([padded[i, :, dy:dy + size, dx:dx + size]
                        for i, (dy, dx) in enumerate(shifts)])


def train(kind: str, demos: Path, steps: int, seed: int, threads: int = 1, batch_size: int = 64,
          lr: float = 1e-3, progress: Callable[[str], None] = print,
          cameras: tuple[str, ...] = ("agentview", "wrist")) -> Checkpoint:
    """`cameras`: the third-person camera first (the WAM imagines its future)."""
    import torch

    from pytest_wamrobust.policies.tiny.model import TinyWAM, build

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.Generator(np.random.PCG64(seed))
    probe = ModelConfig(kind=kind, cameras=cameras, vocab_size=2)
    data = load_demos(demos, cameras, probe.chunk_length, probe.future_size)
    cfg = ModelConfig(kind=kind, cameras=cameras, vocab_size=len(data.vocab),
                      image_size=data.images[cameras[0]].shape[1],
                      batch_tile=WAM_BATCH_TILE if kind == "wam" else 1)
    model = build(cfg)
    mean, std = data.states.mean(0), data.states.std(0) + 1e-3
    states = (data.states - mean) / std
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps,
                                                   pct_start=0.05)
    n = len(states)
    sigmas = noise_levels(cfg.denoise_steps)
    started = time.perf_counter()
    order = rng.permutation(n)
    cursor = 0
    model.train()
    for step in range(steps):
        if cursor + batch_size > n:
            order, cursor = rng.permutation(n), 0
        idx = np.sort(order[cursor:cursor + batch_size])
        cursor += batch_size
        images = [_to_images(torch, data.images[c][idx],
                             rng.integers(0, 2 * SHIFT_PX + 1, (len(idx), 2)))
                  for c in cameras]
        token_ids = data.tokens[idx].copy()
        dropped = (token_ids > 0) & (rng.random(token_ids.shape) < WORD_DROPOUT)
        token_ids[dropped] = data.vocab.tokens.index(UNK)
        tokens = torch.from_numpy(token_ids)
        state = torch.from_numpy(states[idx])
        target = torch.from_numpy(data.chunks[idx])
        if isinstance(model, TinyWAM):  # kind == "wam"
            ctx = model.encoder(images, tokens, state)
            future = _to_images(torch, data.futures[idx], None).flatten(1)
            sigma = sigmas[torch.from_numpy(rng.integers(0, len(sigmas), len(idx)))]
            noise = torch.from_numpy(rng.standard_normal(future.shape).astype(np.float32))
            noisy = future + sigma[:, None] * noise
            estimate = model.denoise(noisy, sigma, ctx)
            future_loss = torch.nn.functional.mse_loss(estimate, future)
            action_loss = torch.nn.functional.mse_loss(model.act(ctx, estimate), target)
            loss = action_loss + FUTURE_WEIGHT * future_loss
        else:
            loss = torch.nn.functional.mse_loss(model(images, tokens, state), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 200 == 0 or step == steps - 1:
            seconds = time.perf_counter() - started
            progress(f"step {step}/{steps} loss {loss.item():.4f} ({seconds:.0f} s)")
    elapsed = time.perf_counter() - started
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    info = {"seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr, "threads": threads,
            "demo_episodes": data.episodes, "demo_steps": n, "train_seconds": round(elapsed, 1),
            "parameters": sum(p.numel() for p in model.parameters())}
    return Checkpoint(cfg, data.vocab, mean.astype(np.float32), std.astype(np.float32),
                      weights, info)
