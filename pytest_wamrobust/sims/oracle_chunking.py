"""How every scripted oracle reads `--policy-arg chunk_length=N` and `replan_steps=M`:
with them an oracle imitates another model's chunking (a 50-step chunk replanned every
5 steps, say), so the chunking's own cost can be told apart from the model's."""

from __future__ import annotations

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext


def chunking(ctx: PolicyContext, chunk_length: int, replan_steps: int) -> tuple[int, int]:
    """(N, M) with 1 <= M <= N, over the oracle's defaults; M's default is capped at N,
    so `chunk_length=2` alone is valid."""
    chunk = ctx.integer("chunk_length", chunk_length, minimum=1)
    replan = ctx.integer("replan_steps", min(replan_steps, chunk), minimum=1)
    if replan > chunk:
        raise UsageError(f"--policy-arg replan_steps={replan} must be in 1..chunk_length={chunk}")
    return chunk, replan
