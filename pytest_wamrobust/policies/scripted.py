"""`--policy=scripted`: the privileged oracle of whichever suite is running.

Planning is simulator-specific, so each suite registers its oracle under the entry
point group `pytest_wamrobust.oracles` (suite name -> factory(ctx) -> Policy); this
module only dispatches, and a third-party suite adds an oracle without touching it.
An oracle reads `Observation.privileged` (simulator state) and nothing else; it is the
ceiling the learned policies are compared against.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint

from pytest_wamrobust.core.model import entry_points, policy_args
from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.protocols import Policy, PolicyContext


@policy_args.declare(policy_args.integer("chunk_length"), policy_args.integer("replan_steps"))
def make_policy(ctx: PolicyContext) -> Policy:
    """The registered oracle of the suite `ctx.env_spec.suite`; `chunk_length` and
    `replan_steps` imitate another model's chunking (each oracle has its defaults)."""
    suite = ctx.env_spec.suite
    oracle = _oracle(suite)
    try:
        factory = oracle.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is one line for the user
        raise UsageError(f"the {suite!r} oracle ({oracle.value}) cannot be imported: "
                         f"{one_line(exc)}") from None
    return factory(ctx)


def check_oracle(ctx: PolicyContext) -> None:
    """The registry's preflight: a suite without an oracle is one line at start-up, not
    the same error in every case. Only looks the name up; nothing is imported."""
    _oracle(ctx.env_spec.suite)


make_policy.preflight = check_oracle  # type: ignore[attr-defined]


def _oracle(suite: str) -> EntryPoint:
    oracle = entry_points.registered(entry_points.ORACLES, suite)
    if oracle is None:
        known = ", ".join(entry_points.available(entry_points.ORACLES)) or "none"
        raise UsageError(
            f"--policy=scripted has no oracle for suite {suite!r} (oracles exist for: {known}); "
            f"register one under the entry point group {entry_points.ORACLES!r} or pick "
            f"another --policy")
    return oracle
