"""The axes every suite applies the same way: noise on the image, language on the prompt.

`with_observation_axes(env, spec)` wraps any `Env` (a Gymnasium-style observation
wrapper): the noise axis corrupts the suite's third-person camera, the language axis
swaps the instruction for one of the task's rewrites. Other axes pass through, so a
suite only has to apply its scene-side axes itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from pytest_wamrobust.core.cases.axes import rewrite_instruction
from pytest_wamrobust.core.cases.corruptions import NONE, corrupt
from pytest_wamrobust.core.model.protocols import Env
from pytest_wamrobust.core.model.types import EnvSpec, EpisodeSpec, Observation


def transform_observation(observation: Observation, spec: EpisodeSpec,
                          env_spec: EnvSpec) -> Observation:
    """What the policy sees under this case's noise or language parameters."""
    params: Mapping[str, Any] = spec.params
    # a suite played physics only (robotwin_plus's render=0) has no image to corrupt
    if spec.setting == "noise" and env_spec.cameras and params.get("corruption", NONE) != NONE:
        camera = env_spec.third_person_camera
        images = dict(observation.images)
        images[camera] = corrupt(images[camera], params["corruption"], int(params["severity"]),
                                 int(params["noise_seed"]), float(params.get("fog_strength", 0.0)))
        return replace(observation, images=images)
    if spec.setting == "language":
        instruction = rewrite_instruction(spec.task.instruction, spec.task.rewrites, params)
        return replace(observation, instruction=instruction)
    return observation


class ObservationAxes:
    """An Env whose observations carry the noise and language perturbations."""

    def __init__(self, env: Env, spec: EpisodeSpec) -> None:
        self.env = env
        self.episode = spec
        self.spec: EnvSpec = env.spec

    def reset(self) -> Observation:
        return transform_observation(self.env.reset(), self.episode, self.spec)

    def step(self, action: np.ndarray) -> None:
        self.env.step(action)

    def observe(self) -> Observation:
        return transform_observation(self.env.observe(), self.episode, self.spec)

    def success(self) -> bool:
        return self.env.success()

    def close(self) -> None:
        self.env.close()

    def __getattr__(self, name: str) -> Any:
        # Recorders and tests reach simulator details (e.g. `physics`) through the wrapper.
        return getattr(self.env, name)


def with_observation_axes(env: Env, spec: EpisodeSpec) -> Env:
    """`env` itself for axes that do not touch observations, else the wrapper."""
    if spec.setting in ("noise", "language"):
        return ObservationAxes(env, spec)
    return env
