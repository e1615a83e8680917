"""Draw one case's perturbation parameters from its axis' Hypothesis strategy.

We go through Hypothesis' public API (`@given` + `@seed`) rather than its internals.
Hypothesis always tries the simplest example first, so we ask for two and keep the
second: a seeded, random draw that still favours boundary values now and then, as
Hypothesis does when it searches.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

_DRAW_SETTINGS = settings(
    max_examples=2,
    phases=[Phase.generate],
    database=None,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


def draw(strategy: st.SearchStrategy[Any], draw_seed: int) -> Any:
    """The example of `strategy` that belongs to `draw_seed` (same seed, same value)."""
    drawn: list[Any] = []

    @seed(draw_seed)
    @_DRAW_SETTINGS
    @given(strategy)
    def capture(value: Any) -> None:
        drawn.append(value)

    capture()
    return drawn[-1]
