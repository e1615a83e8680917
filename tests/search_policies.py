"""Real `module:callable` policies whose breaking point on an axis is known in advance,
for the --wam-search tests.

`clause_averse` is the scripted oracle until its instruction holds a clause (a `;`, as
the language axis' "distractor" rewrites do: levels 3 and 4), where it stops moving. Its
smallest failing language perturbation is therefore the first magnitude of level 3:
m = 0.41 on the search's 0.01 grid.
"""

from __future__ import annotations

import numpy as np

from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.policies.scripted import make_policy as make_scripted


class ClauseAverse:
    def __init__(self, ctx: PolicyContext) -> None:
        self._inner = make_scripted(ctx)
        self.metadata = self._inner.metadata

    def reset(self, task: str, seed: int) -> None:
        self._inner.reset(task, seed)

    def infer(self, observation):
        chunk = self._inner.infer(observation)
        return np.zeros_like(chunk) if ";" in observation.instruction else chunk


def clause_averse(ctx: PolicyContext) -> ClauseAverse:
    return ClauseAverse(ctx)


class FailsOnce:
    """The oracle, except that the first episode of its life does nothing: a policy
    whose outcome depends on its history, not on the case (nondeterministic to a search)."""

    def __init__(self, ctx: PolicyContext) -> None:
        self._inner = make_scripted(ctx)
        self.metadata = self._inner.metadata
        self._episodes = 0

    def reset(self, task: str, seed: int) -> None:
        self._episodes += 1
        self._inner.reset(task, seed)

    def infer(self, observation):
        chunk = self._inner.infer(observation)
        return np.zeros_like(chunk) if self._episodes == 1 else chunk


def fails_once(ctx: PolicyContext) -> FailsOnce:
    return FailsOnce(ctx)
