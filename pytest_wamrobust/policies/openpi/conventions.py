"""How each suite's observation is shown to an openpi model, as data keyed on the suite.

A model served by openpi expects the layout it was trained on: pi0/pi0.5 LIBERO
checkpoints want `observation/image` and `observation/wrist_image` at 224 px after a
180-degree rotation (robosuite renders upside down) and aspect-preserving padding,
an 8-dim state (eef pos, axis-angle, gripper qpos x2), and execute 5 actions of each
chunk. The built-in tabletop suite mirrors that layout, but renders upright.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import EnvSpec

#: Gripper conventions a model's last action dimension may follow; suites use the first.
MINUS_ONE_OPEN = "minus_one_open"   # -1 open, +1 closed (LIBERO, the built-in suites)
ZERO_ONE_CLOSED = "zero_one_closed"  # 0 open, 1 closed (DROID)


@dataclass(frozen=True)
class SuiteConvention:
    """One suite's request layout for openpi models.

    `image_keys` maps a request key to the camera role it carries ("third_person" or
    "wrist"); `state_dim` is what the model reads, checked against the suite's state.
    """

    image_keys: Mapping[str, str]
    state_dim: int
    rotate_180: bool
    image_size: int = 224
    replan_steps: int = 5
    gripper: str = MINUS_ONE_OPEN
    state_key: str = "observation/state"
    prompt_key: str = "prompt"


_LIBERO_KEYS = {"observation/image": "third_person", "observation/wrist_image": "wrist"}

#: suite name -> convention (openpi's examples/libero/main.py for LIBERO).
CONVENTIONS: dict[str, SuiteConvention] = {
    "libero_plus": SuiteConvention(image_keys=_LIBERO_KEYS, state_dim=8, rotate_180=True),
    "tabletop": SuiteConvention(image_keys=_LIBERO_KEYS, state_dim=8, rotate_180=False),
}


@dataclass(frozen=True)
class Preset:
    """A named openpi checkpoint: its action horizon and the config to serve it with."""

    name: str
    chunk_length: int
    server_config: str
    family: str = "vla"


#: `--policy=<name>` -> the LIBERO checkpoint of openpi it stands for.
PRESETS: dict[str, Preset] = {
    "pi0": Preset("pi0", chunk_length=50, server_config="pi0_libero"),
    "pi05": Preset("pi05", chunk_length=10, server_config="pi05_libero"),
    "pi0-fast": Preset("pi0-fast", chunk_length=10, server_config="pi0_fast_libero"),
}


def convention_for(env_spec: EnvSpec, policy: str) -> SuiteConvention:
    """The suite's convention, or one line saying which suites have one."""
    convention = CONVENTIONS.get(env_spec.suite)
    if convention is None:
        raise UsageError(
            f"policy {policy!r} has no openpi observation convention for suite "
            f"{env_spec.suite!r} (known: {', '.join(sorted(CONVENTIONS))}); serve the model "
            f"with `wamrobust serve` or add an entry to pytest_wamrobust.policies.openpi."
            f"conventions.CONVENTIONS")
    if env_spec.state_dim != convention.state_dim:
        raise UsageError(f"suite {env_spec.suite!r} has a {env_spec.state_dim}-dim state but "
                         f"the openpi convention expects {convention.state_dim}")
    roles = {camera.role for camera in env_spec.cameras}
    missing = sorted(set(convention.image_keys.values()) - roles)
    if missing:
        raise UsageError(f"suite {env_spec.suite!r} has no {' / '.join(missing)} camera, which "
                         f"policy {policy!r} needs")
    return convention
