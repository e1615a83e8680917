"""Image corruptions of the noise axis, in pure numpy (no scipy, no OpenCV).

After ImageNet-C (Hendrycks & Dietterich, 2019) as LIBERO-Plus uses them: five
severities per corruption, applied to the third-person camera only. Sizes scale with
the image (the ImageNet-C constants are for 224 px), so 128 and 256 px renders get the
same visual strength. Every random choice comes from `seed`, so a noise case shows the
same image on any worker.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError

#: Name of the identity corruption (the axis' level-0 parameters).
NONE = "none"
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

# Per-severity constants (index = severity - 1), in ImageNet-C's 224 px units.
_GAUSSIAN_SIGMA = (1.0, 2.0, 3.0, 4.0, 6.0)
_MOTION_LENGTH = (6.0, 10.0, 15.0, 22.0, 30.0)
_ZOOM_MAX = (1.11, 1.16, 1.21, 1.26, 1.31)
_FOG = ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))  # (amount, decay)
_GLASS = ((0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2))  # sigma, delta, iters
_PIXEL_NOISE_SIGMA = (0.08, 0.12, 0.18, 0.26, 0.38)


def _scale(image: np.ndarray) -> float:
    return max(image.shape[0], image.shape[1]) / 224.0


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The image translated by (dy, dx) pixels, edges repeated."""
    h, w = image.shape[:2]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return image[rows][:, cols]


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge padding."""
    if sigma <= 0:
        return image
    radius = max(1, int(round(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.zeros_like(image)
    for offset, weight in zip(range(-radius, radius + 1), taps, strict=True):
        out += weight * _shift(image, offset, 0)
    blurred = np.zeros_like(image)
    for offset, weight in zip(range(-radius, radius + 1), taps, strict=True):
        blurred += weight * _shift(out, 0, offset)
    return blurred


def _bilinear(image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample the image at float coordinates (clamped to the border)."""
    h, w = image.shape[:2]
    ys = np.clip(ys, 0, h - 1)
    xs = np.clip(xs, 0, w - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0)[..., None]
    fx = (xs - x0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def gaussian_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _gaussian(x, _GAUSSIAN_SIGMA[severity - 1] * _scale(x))


def motion_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Average along a line of random direction, as a camera moving during exposure."""
    length = _MOTION_LENGTH[severity - 1] * _scale(x)
    angle = rng.uniform(-np.pi, np.pi)
    steps = max(2, int(round(length)))
    out = np.zeros_like(x)
    for t in np.linspace(0.0, length, steps):
        out += _shift(x, int(round(t * np.sin(angle))), int(round(t * np.cos(angle))))
    return out / steps


def zoom_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Average of centre zooms, as a camera moving forward during exposure."""
    h, w = x.shape[:2]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    zooms = np.linspace(1.0, _ZOOM_MAX[severity - 1], 8)
    out = np.zeros_like(x)
    for zoom in zooms:
        out += _bilinear(x, cy + (ys - cy) / zoom, cx + (xs - cx) / zoom)
    return out / len(zooms)


def _fractal(shape: tuple[int, int], decay: float, rng: np.random.Generator) -> np.ndarray:
    """Fractal value noise in [0, 1]: octaves of upsampled random grids, weight decay^-k."""
    h, w = shape
    total = np.zeros(shape)
    octaves = int(np.ceil(np.log2(max(h, w))))
    for k in range(1, octaves + 1):
        cells = 2**k + 1
        grid = rng.random((cells, cells))
        ys = np.linspace(0, cells - 1, h)[:, None] * np.ones((1, w))
        xs = np.linspace(0, cells - 1, w)[None, :] * np.ones((h, 1))
        total += _bilinear(grid[..., None], ys, xs)[..., 0] / decay**k
    total -= total.min()
    return total / max(total.max(), 1e-12)


def fog(x: np.ndarray, severity: int, rng: np.random.Generator,
        strength: float = 0.0) -> np.ndarray:
    """Additive fractal haze; `strength` > 0 replaces the severity's amount."""
    amount, decay = _FOG[severity - 1]
    if strength > 0:
        amount = strength
    peak = x.max()
    x = x + amount * _fractal(x.shape[:2], decay, rng)[..., None]
    return x * peak / (peak + amount)


def glass_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Blur, jitter every pixel to a random neighbour, blur again (frosted glass)."""
    sigma, delta, iterations = _GLASS[severity - 1]
    scale = _scale(x)
    delta = max(1, int(round(delta * scale)))
    x = _gaussian(x, sigma * scale)
    h, w = x.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    for _ in range(iterations):
        dy = rng.integers(-delta, delta + 1, size=(h, w))
        dx = rng.integers(-delta, delta + 1, size=(h, w))
        x = x[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)]
    return _gaussian(x, sigma * scale)


def pixel_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return x + rng.normal(0.0, _PIXEL_NOISE_SIGMA[severity - 1], size=x.shape)


CORRUPTIONS: dict[str, Callable[..., np.ndarray]] = {
    "motion_blur": motion_blur,
    "gaussian_blur": gaussian_blur,
    "zoom_blur": zoom_blur,
    "fog": fog,
    "glass_blur": glass_blur,
    "pixel_noise": pixel_noise,
}


def corrupt(image: np.ndarray, corruption: str, severity: int, seed: int,
            fog_strength: float = 0.0) -> np.ndarray:
    """The corrupted uint8 image; `corruption="none"` returns the input unchanged."""
    if corruption == NONE:
        return image
    if corruption not in CORRUPTIONS:
        raise UsageError(
            f"unknown corruption {corruption!r}; choose from {', '.join(CORRUPTIONS)} "
            f"in [axes.noise] corruptions"
        )
    if severity not in SEVERITIES:
        raise UsageError(f"corruption severity must be one of {SEVERITIES}, got {severity!r}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise UsageError(
            f"corruptions take uint8 (H, W, 3) images, got {image.dtype} {image.shape}")
    rng = np.random.Generator(np.random.PCG64(seed))
    x = image.astype(np.float64) / 255.0
    if corruption == "fog":
        out = fog(x, severity, rng, fog_strength)
    else:
        out = CORRUPTIONS[corruption](x, severity, rng)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
