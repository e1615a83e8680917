"""Real `module:callable` policies that misbehave on chosen tasks, for the plugin's tests.

`faulty` wraps the scripted oracle and breaks only on the tasks named in its options
(`--policy-arg close_drawer=nan`: task -> raise | nan | inf | shape | text | none |
reset | reset_hang | exit | crash | exit0 | segfault | slow | hang | spin | swallow |
cancelled | stall | big | bool | complex), so one run shows each kind of fault next to
cases that work.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import threading
import time

import numpy as np

from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.policies.scripted import make_policy as make_scripted


class Faulty:
    def __init__(self, ctx: PolicyContext) -> None:
        self._inner = make_scripted(ctx)
        self.metadata = self._inner.metadata
        self._faults = dict(ctx.options)
        self._fault = ""
        self._built_on = threading.get_ident()

    def reset(self, task: str, seed: int) -> None:
        self._fault = self._faults.get(task, "")
        if self._fault == "reset":
            raise ValueError(f"no prompt embedding cached for task {task!r}")
        if self._fault == "reset_hang":  # e.g. waiting on a server that never answers
            threading.Event().wait()
        self._inner.reset(task, seed)

    def infer(self, observation):
        if self._faults.get("same_thread") and threading.get_ident() != self._built_on:
            raise RuntimeError("infer ran on another thread than the one that built the policy")
        chunk = self._inner.infer(observation)
        if not self._fault:
            return chunk
        if self._fault == "slow":
            time.sleep(0.03)
            return chunk
        if self._fault == "raise":
            raise RuntimeError("model exploded")
        if self._fault == "nan":
            return np.full_like(chunk, np.nan)
        if self._fault == "inf":
            return np.where(chunk > 0, np.inf, chunk)
        if self._fault == "shape":
            return np.zeros((3, 2))
        if self._fault == "text":
            return [["open", "close"]]
        if self._fault == "none":
            return None
        if self._fault == "exit":  # a library that calls sys.exit on a bad input
            sys.exit("CUDA error: device-side assert triggered")
        if self._fault == "segfault":  # a native extension dereferencing NULL
            ctypes.string_at(0)
        if self._fault == "crash":
            os._exit(17)
        if self._fault == "exit0":  # ends the interpreter as if all went well
            os._exit(0)
        if self._fault == "swallow":  # a retry loop that catches everything
            while True:
                try:
                    threading.Event().wait()
                except BaseException:  # noqa: BLE001, S110 - the fault under test
                    pass
        if self._fault == "cancelled":  # an asyncio client torn down mid-request
            raise asyncio.CancelledError()
        if self._fault == "hang":  # blocked forever, e.g. on a lock or a dead device
            threading.Event().wait()
        if self._fault == "spin":  # busy forever in Python code
            while True:
                pass
        if self._fault == "stall":  # one long stall per episode, fast otherwise
            self._fault = "slow_once_done"
            time.sleep(1.5)
            return chunk
        if self._fault == "slow_once_done":
            return chunk
        if self._fault == "big":  # relies on the clip to [-1, 1]
            return chunk * 3.0
        if self._fault == "bool":  # a thresholded output passed on as is
            return chunk > 0
        if self._fault == "complex":  # an FFT-based head that forgot .real
            return chunk.astype(np.complex128)
        raise AssertionError(self._fault)


def faulty(ctx):
    return Faulty(ctx)


def hanging_factory(ctx):
    threading.Event().wait()  # e.g. loading weights from a dead network mount


def broken_factory(ctx):
    raise OSError("checkpoint /models/pi05.safetensors not found")


def not_a_policy(ctx):
    return object()
