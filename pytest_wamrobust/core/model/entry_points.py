"""The entry point groups through which everything pluggable registers, the built-ins
exactly as a third party's package does (pyproject.toml's `[project.entry-points.*]`
tables use these names). Looked up only here, so a name is spelled once."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

#: `--policy NAME` -> factory(ctx) -> Policy
POLICIES = "pytest_wamrobust.policies"
#: `--suite NAME` -> factory([options]) -> Suite
SUITES = "pytest_wamrobust.suites"
#: suite name -> factory(ctx) -> the suite's privileged oracle (`--policy=scripted`)
ORACLES = "pytest_wamrobust.oracles"
#: `--policy SCHEME:REST` (ws://, lerobot:) -> resolve(spec) -> factory(ctx) -> Policy
POLICY_SCHEMES = "pytest_wamrobust.policy_schemes"

ALL_GROUPS = (POLICIES, SUITES, ORACLES, POLICY_SCHEMES)


def available(group: str) -> list[str]:
    """Registered names of one entry point group, sorted."""
    return sorted({ep.name for ep in entry_points(group=group)})


def registered(group: str, name: str) -> EntryPoint | None:
    """The entry point `name` of `group` (None if absent)."""
    return next((ep for ep in entry_points(group=group) if ep.name == name), None)
