"""Draw one case's perturbation parameters from its axis' Hypothesis strategy.

The strategy defines the parameter space once, for sampling and for search. Sampling
must give the same value for the same case on every machine, whatever Hypothesis
version is installed, so the draw does not go through Hypothesis' own generator (its
heuristics - boundary values, "simplest example first" - change between releases).
It runs the strategy on a Hypothesis backend of ours, `SeededProvider`: each primitive
choice the strategy makes (an integer in a range, a float in a band, a coin flip) is
answered uniformly by a numpy generator seeded with the case's seed. What remains
version-dependent is only how a strategy splits into primitive choices.
"""

from __future__ import annotations

import contextvars
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers

BACKEND = "wamrobust-seeded"
#: Bound for a choice the strategy leaves unbounded (our axes never do).
_UNBOUNDED = 2**16

_draw_seed: contextvars.ContextVar[int] = contextvars.ContextVar("wamrobust_draw_seed")


class SeededProvider(providers.PrimitiveProvider):
    """Answers every primitive choice from `np.random.default_rng(draw seed)`, uniformly."""

    lifetime = "test_case"

    def __init__(self, conjecturedata: Any, /) -> None:
        super().__init__(conjecturedata)
        self._rng = np.random.default_rng(_draw_seed.get())

    def draw_boolean(self, p: float = 0.5, **_: Any) -> bool:
        return bool(self._rng.random() < p)

    def draw_integer(self, min_value: int | None = None, max_value: int | None = None,
                     **kwargs: Any) -> int:
        centre = kwargs.get("shrink_towards", 0)
        lo = centre - _UNBOUNDED if min_value is None else min_value
        hi = max(lo, centre) + _UNBOUNDED if max_value is None else max_value
        return int(self._rng.integers(lo, hi, endpoint=True))

    def draw_float(self, *, min_value: float = -math.inf, max_value: float = math.inf,
                   **_: Any) -> float:
        lo, hi = max(min_value, -float(_UNBOUNDED)), min(max_value, float(_UNBOUNDED))
        return float(self._rng.uniform(lo, hi)) if hi > lo else float(lo)

    def draw_string(self, intervals: Any, *, min_size: int = 0, max_size: int = 2**32,
                    **_: Any) -> str:
        if not len(intervals):
            return ""
        size = int(self._rng.integers(min_size, min(max_size, min_size + 16), endpoint=True))
        picks = self._rng.integers(len(intervals), size=size)
        return "".join(chr(intervals[int(i)]) for i in picks)

    def draw_bytes(self, min_size: int = 0, max_size: int = 2**32, **_: Any) -> bytes:
        return self._rng.bytes(int(self._rng.integers(min_size, min(max_size, min_size + 16),
                                                      endpoint=True)))


providers.AVAILABLE_PROVIDERS[BACKEND] = f"{__name__}.SeededProvider"

# Two examples: Hypothesis may still try its simplest example first; every example
# answered by our provider is the same, so the last one is the draw.
_DRAW_SETTINGS = settings(
    backend=BACKEND,
    max_examples=2,
    phases=[Phase.generate],
    database=None,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


def draw(strategy: st.SearchStrategy[Any], draw_seed: int) -> Any:
    """The value of `strategy` that belongs to `draw_seed` (same seed, same value)."""
    drawn: list[Any] = []

    @_DRAW_SETTINGS
    @given(strategy)
    def capture(value: Any) -> None:
        drawn.append(value)

    token = _draw_seed.set(draw_seed)
    try:
        capture()
    finally:
        _draw_seed.reset(token)
    return drawn[-1]
