"""Noise-axis corruptions and the observation wrapper every suite reuses."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_wamrobust.core.cases.corruptions import CORRUPTIONS, NONE, corrupt
from pytest_wamrobust.core.cases.observation_axes import (
    transform_observation,
    with_observation_axes,
)
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import (
    CameraSpec,
    CaseKey,
    EnvSpec,
    EpisodeSpec,
    Observation,
    TaskSpec,
)


def _scene(size: int = 128) -> np.ndarray:
    """A structured image (edges, flat areas) so blurs have something to blur."""
    y, x = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 0] = ((x // 8 + y // 8) % 2) * 200 + 20
    image[..., 1] = (x * 255 // size).astype(np.uint8)
    image[..., 2] = 90
    return image


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_each_corruption_is_deterministic_and_grows_with_severity(name):
    image = _scene()
    diffs = []
    for severity in (1, 3, 5):
        a = corrupt(image, name, severity, seed=11)
        assert a.dtype == np.uint8 and a.shape == image.shape
        assert np.array_equal(a, corrupt(image, name, severity, seed=11))
        diffs.append(np.abs(a.astype(int) - image).mean())
    assert diffs[0] > 0.5
    assert diffs[2] > diffs[0]


def test_seed_changes_the_random_corruptions_only():
    image = _scene()
    noisy = [corrupt(image, "pixel_noise", 3, seed) for seed in (1, 2)]
    blurred = [corrupt(image, "gaussian_blur", 3, seed) for seed in (1, 2)]
    assert not np.array_equal(*noisy)
    assert np.array_equal(*blurred)


def test_fog_strength_overrides_the_severity_amount():
    image = _scene()
    weak = corrupt(image, "fog", 3, 5, fog_strength=0.3)
    strong = corrupt(image, "fog", 3, 5, fog_strength=1.5)
    assert np.abs(strong.astype(int) - image).mean() > np.abs(weak.astype(int) - image).mean()


def test_identity_and_bad_input():
    image = _scene()
    assert corrupt(image, NONE, 0, 0) is image
    with pytest.raises(UsageError, match="unknown corruption 'snow'"):
        corrupt(image, "snow", 1, 0)
    with pytest.raises(UsageError, match="severity"):
        corrupt(image, "fog", 7, 0)


def _spec(axis: str, params: dict) -> tuple[EpisodeSpec, EnvSpec]:
    task = TaskSpec("t", "put the cube on the plate", 10,
                    {"paraphrase": ("place the cube onto the plate",)})
    env_spec = EnvSpec("s", (CameraSpec("wrist", 64, 64, "wrist"),
                             CameraSpec("agentview", 64, 64, "third_person")), 8, 7, 20.0)
    return EpisodeSpec(CaseKey("s", "t", axis, 3, 0), task, params, 1), env_spec


def test_noise_corrupts_only_the_third_person_camera():
    spec, env_spec = _spec("noise", {"corruption": "fog", "severity": 3, "fog_strength": 0.0,
                                     "noise_seed": 4})
    obs = Observation({"wrist": _scene(), "agentview": _scene()}, np.zeros(8), "x")
    out = transform_observation(obs, spec, env_spec)
    assert np.array_equal(out.images["wrist"], obs.images["wrist"])
    assert not np.array_equal(out.images["agentview"], obs.images["agentview"])
    assert out.instruction == "x"


def test_language_swaps_the_instruction_and_wrapper_passes_other_axes():
    spec, env_spec = _spec("language", {"kind": "paraphrase", "choice": 5})
    obs = Observation({"agentview": _scene()}, np.zeros(8), "put the cube on the plate")
    assert transform_observation(obs, spec, env_spec).instruction == "place the cube onto the plate"
    sentinel = object()
    camera_spec, _ = _spec("camera", {})
    assert with_observation_axes(sentinel, camera_spec) is sentinel
