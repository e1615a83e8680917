"""Observation <-> request dict, in the two layouts a policy server may expect.

`openpi` layout: what an openpi checkpoint was trained on (see conventions.py).
`native` layout: the suite's own cameras and state untouched, for `wamrobust serve`,
which hands the policy the same Observation it would get in-process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import POLICY_ERROR, EpisodeError
from pytest_wamrobust.core.model.types import EnvSpec, Observation
from pytest_wamrobust.policies.openpi.conventions import (
    MINUS_ONE_OPEN,
    ZERO_ONE_CLOSED,
    SuiteConvention,
)

IMAGE_PREFIX = "observation/images/"
STATE_KEY = "observation/state"
PROMPT_KEY = "prompt"
PRIVILEGED_KEY = "wamrobust/privileged"
RESET_KEY = "wamrobust/reset"


def resize_with_pad(image: np.ndarray, size: int) -> np.ndarray:
    """openpi's image_tools.resize_with_pad: keep the aspect ratio, pad black, uint8."""
    from PIL import Image

    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return np.asarray(image, dtype=np.uint8)
    ratio = max(width / size, height / size)
    new_w, new_h = int(width / ratio), int(height / ratio)
    resized = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize(
        (new_w, new_h), resample=Image.Resampling.BILINEAR)
    out = np.zeros((size, size, image.shape[2]), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top:top + new_h, left:left + new_w] = np.asarray(resized)
    return out


def openpi_request(observation: Observation, spec: EnvSpec,
                   convention: SuiteConvention) -> dict[str, Any]:
    request: dict[str, Any] = {}
    for key, role in convention.image_keys.items():
        camera = next(c.name for c in spec.cameras if c.role == role)
        image = observation.images[camera]
        if convention.rotate_180:
            image = image[::-1, ::-1]
        request[key] = resize_with_pad(np.ascontiguousarray(image), convention.image_size)
    request[convention.state_key] = np.asarray(observation.state, dtype=np.float32)
    request[convention.prompt_key] = observation.instruction
    return request


def native_request(observation: Observation, privileged: bool) -> dict[str, Any]:
    request: dict[str, Any] = {IMAGE_PREFIX + name: np.ascontiguousarray(image)
                               for name, image in observation.images.items()}
    request[STATE_KEY] = np.asarray(observation.state)
    request[PROMPT_KEY] = observation.instruction
    if privileged:
        request[PRIVILEGED_KEY] = dict(observation.privileged)
    return request


def observation_from_native(request: Mapping[str, Any]) -> Observation:
    """The server side of `native_request`."""
    images = {key[len(IMAGE_PREFIX):]: np.array(value) for key, value in request.items()
              if key.startswith(IMAGE_PREFIX)}
    if STATE_KEY not in request:
        raise ValueError(f"request lacks {STATE_KEY!r}; is the client speaking the native layout?")
    return Observation(images=images, state=np.array(request[STATE_KEY]),
                       instruction=str(request.get(PROMPT_KEY, "")),
                       privileged=dict(request.get(PRIVILEGED_KEY) or {}))


def actions_from_reply(reply: Any, url: str, gripper: str = MINUS_ONE_OPEN) -> np.ndarray:
    """The reply's action chunk in the suites' convention (gripper -1 open)."""
    if not isinstance(reply, dict) or "actions" not in reply:
        keys = sorted(map(str, reply)) if isinstance(reply, dict) else type(reply).__name__
        raise EpisodeError(POLICY_ERROR, f"policy server {url} replied without 'actions' "
                                         f"(got {keys})")
    actions = np.array(reply["actions"], dtype=np.float64)
    if actions.ndim == 1:
        actions = actions[None, :]
    if gripper == ZERO_ONE_CLOSED and actions.ndim == 2 and actions.shape[1]:
        actions[:, -1] = 2.0 * actions[:, -1] - 1.0
    return actions
