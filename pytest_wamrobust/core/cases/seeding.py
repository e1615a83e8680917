"""One function turns a case's identity into every seed it needs.

Hashing (not Python's salted `hash`) keeps a case identical on any worker, in any
order, on any machine.
"""

from __future__ import annotations

import hashlib

import numpy as np

from pytest_wamrobust.core.model.types import CaseKey


def derive_seed(key: CaseKey, purpose: str) -> int:
    """A 32-bit seed for one purpose ("params", "episode", ...) of one case."""
    text = f"{key.suite}|{key.task}|{key.setting}|{key.level}|{key.seed_index}|{purpose}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def episode_seed(key: CaseKey) -> int:
    """Seeds the task's own randomness (object placement) and the policy.

    It ignores the axis and level on purpose: case `s03` of every axis starts from the
    same scene as clean `s03`, so a per-axis drop is caused by the perturbation alone
    (the matched clean control of the study).
    """
    text = f"{key.suite}|{key.task}|{key.seed_index}|episode"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def rng_for(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))
