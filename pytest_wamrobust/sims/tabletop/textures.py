"""Table and wall textures as numpy arrays: the clean look and the background axis' patterns.

Generated in numpy (not MuJoCo's builtin random marks) so a pattern is a pure function
of its parameters and identical on every worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError

SIZE = 64
PATTERNS: tuple[str, ...] = ("original", "flat", "checker", "gradient", "noise", "stripes")


@dataclass(frozen=True)
class Surface:
    """How one surface looks: a pattern, its base colour and a colour shift."""

    base_rgb: tuple[float, float, float]
    pattern: str = "original"
    shift: float = 0.0
    direction: tuple[float, float, float] = (0.0, 0.0, 0.0)
    texture_seed: int = 0


def _pattern(name: str, rng: np.random.Generator) -> np.ndarray:
    """A (SIZE, SIZE) modulation in [0, 1] that multiplies the base colour."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    if name == "original":  # faint wood grain, the clean table
        return 0.9 + 0.1 * np.sin(40 * y + 3 * np.sin(6 * x)) ** 2
    if name == "flat":
        return np.ones((SIZE, SIZE))
    if name == "checker":
        cells = int(rng.integers(2, 9))
        return 0.45 + 0.55 * (((x * cells).astype(int) + (y * cells).astype(int)) % 2)
    if name == "gradient":
        angle = rng.uniform(0, np.pi)
        return 0.35 + 0.65 * (np.cos(angle) * x + np.sin(angle) * y + 1) / 2.5
    if name == "noise":
        coarse = rng.random((9, 9))
        rows = np.linspace(0, 8, SIZE).astype(int)
        return 0.4 + 0.45 * coarse[rows][:, rows] + 0.15 * rng.random((SIZE, SIZE))
    if name == "stripes":
        period = rng.uniform(0.1, 0.35)
        return 0.45 + 0.55 * ((x / period).astype(int) % 2)
    raise UsageError(f"unknown background pattern {name!r}; choose from {', '.join(PATTERNS)}")


def render_surface(surface: Surface) -> np.ndarray:
    """The surface as a (SIZE, SIZE, 3) uint8 texture."""
    rng = np.random.Generator(np.random.PCG64(surface.texture_seed))
    rgb = np.asarray(surface.base_rgb) + surface.shift * np.asarray(surface.direction)
    image = _pattern(surface.pattern, rng)[..., None] * np.clip(rgb, 0.0, 1.0)
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
