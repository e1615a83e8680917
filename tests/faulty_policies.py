"""Real `module:callable` policies that misbehave on one task, for the plugin's tests.

Each wraps the scripted oracle and breaks only on the task named by
`--policy-arg fault_task=...`, so a run shows faulty cases next to good ones.
"""

from __future__ import annotations

import os

import numpy as np

from pytest_wamrobust.core.protocols import PolicyContext
from pytest_wamrobust.policies.scripted import make_policy as make_scripted


class Faulty:
    def __init__(self, ctx: PolicyContext, fault: str) -> None:
        self._inner = make_scripted(ctx)
        self.metadata = self._inner.metadata
        self._fault = fault
        self._fault_task = ctx.options.get("fault_task", "")
        self._faulty = False

    def reset(self, task: str, seed: int) -> None:
        self._faulty = task == self._fault_task
        self._inner.reset(task, seed)

    def infer(self, observation):
        chunk = self._inner.infer(observation)
        if not self._faulty:
            return chunk
        if self._fault == "raise":
            raise RuntimeError("model exploded")
        if self._fault == "nan":
            return np.full_like(chunk, np.nan)
        if self._fault == "shape":
            return np.zeros((3, 2))
        if self._fault == "crash":
            os._exit(17)
        raise AssertionError(self._fault)


def raising(ctx):
    return Faulty(ctx, "raise")


def nan(ctx):
    return Faulty(ctx, "nan")


def wrong_shape(ctx):
    return Faulty(ctx, "shape")


def crashing(ctx):
    return Faulty(ctx, "crash")


def broken_factory(ctx):
    raise OSError("checkpoint /models/pi05.safetensors not found")


def not_a_policy(ctx):
    return object()
