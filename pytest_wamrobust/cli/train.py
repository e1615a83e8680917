"""`wamrobust train tiny-vla|tiny-wam`: behaviour cloning from `wamrobust record` demos."""

from __future__ import annotations

import argparse
from pathlib import Path

KINDS = {"tiny-vla": "vla", "tiny-wam": "wam"}


def add_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("policy", choices=sorted(KINDS), help="which policy to train")
    sub.add_argument("--demos", type=Path, default=Path(".cache/demos/tabletop"),
                     help="folder written by `wamrobust record` (default: .cache/demos/tabletop)")
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
    from pytest_wamrobust.core.errors import UsageError
    from pytest_wamrobust.policies.tiny.checkpoint import packaged_dir
    from pytest_wamrobust.policies.tiny.training import train

    if args.steps < 1 or args.batch_size < 1 or args.threads < 1:
        raise UsageError("--steps, --batch-size and --threads must be positive")
    checkpoint = train(KINDS[args.policy], args.demos, args.steps, args.seed, args.threads,
                       args.batch_size)
    path = checkpoint.save(args.out or packaged_dir(), args.policy)
    info = checkpoint.info
    print(f"{args.policy}: {info['parameters']:,} parameters, {info['demo_episodes']} demos "
          f"({info['demo_steps']} steps), trained {info['train_seconds']} s -> "
          f"{path.with_suffix('.safetensors')}")
    return 0
