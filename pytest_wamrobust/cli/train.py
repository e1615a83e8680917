"""`wamrobust train tiny-vla|tiny-wam|tiny-vla-libero`: behaviour cloning from
`wamrobust record` demos."""

from __future__ import annotations

import argparse
from pathlib import Path

TABLETOP = ("agentview", "wrist")
LIBERO = ("agentview", "robot0_eye_in_hand")
#: policy -> (network kind, its suite's cameras, default demo folder)
KINDS = {"tiny-vla": ("vla", TABLETOP, Path(".cache/demos/tabletop")),
         "tiny-wam": ("wam", TABLETOP, Path(".cache/demos/tabletop")),
         "tiny-vla-libero": ("vla", LIBERO, Path(".cache/demos/libero_plus"))}


def add_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("policy", choices=sorted(KINDS), help="which policy to train")
    sub.add_argument("--demos", type=Path,
                     help="folder written by `wamrobust record` (default: .cache/demos/tabletop, "
                          "for tiny-vla-libero .cache/demos/libero_plus)")
    sub.add_argument("--steps", type=int, default=12000,
                     help="optimiser steps (default: 12000, the shipped weights)")
    sub.add_argument("--batch-size", type=int, default=64,
                     help="demo steps per batch (default: 64)")
    sub.add_argument("--seed", type=int, default=0, help="training seed; same seed, same weights")
    sub.add_argument("--threads", type=int, default=1,
                     help="torch threads (default: 1; more threads on a busy machine are slower)")
    sub.add_argument("--out", type=Path,
                     help="folder for <policy>.safetensors/.json (default: the packaged weights/)")


def run(args: argparse.Namespace) -> int:
    from pytest_wamrobust.core.model.errors import UsageError
    from pytest_wamrobust.policies.tiny.checkpoint import packaged_dir
    from pytest_wamrobust.policies.tiny.training import train

    if args.steps < 1 or args.batch_size < 1 or args.threads < 1:
        raise UsageError("--steps, --batch-size and --threads must be positive")
    kind, cameras, demos = KINDS[args.policy]
    checkpoint = train(kind, args.demos or demos, args.steps, args.seed, args.threads,
                       args.batch_size, cameras=cameras)
    path = checkpoint.save(args.out or packaged_dir(), args.policy)
    info = checkpoint.info
    print(f"{args.policy}: {info['parameters']:,} parameters, {info['demo_episodes']} demos "
          f"({info['demo_steps']} steps), trained {info['train_seconds']} s -> "
          f"{path.with_suffix('.safetensors')}")
    return 0
