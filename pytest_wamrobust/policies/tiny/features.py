"""The observation -> model-input transform, shared by recording, training and inference.

One function for both sides keeps demos and evaluation pixel-identical: images are
area-downsampled (uint8), the axis-angle of the state becomes a rotation matrix (its
sign flips near 180 degrees; the matrix is continuous).
"""

from __future__ import annotations

import numpy as np

from pytest_wamrobust.core.model.errors import POLICY_ERROR, EpisodeError


def downsample(image: np.ndarray, size: int, height: int | None = None) -> np.ndarray:
    """Area-average an (H, W, 3) uint8 image to (height or size, size, 3); H and W must
    be multiples of the target."""
    h, w = image.shape[:2]
    height = size if height is None else height
    if h % height or w % size:
        raise EpisodeError(POLICY_ERROR, f"camera image {h}x{w} cannot be downsampled to "
                                         f"{height}x{size}; use an image size that is a "
                                         f"multiple of {height}x{size}")
    fh, fw = h // height, w // size
    if fh == fw == 1:
        return np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    blocks = image[..., :3].reshape(height, fh, size, fw, 3)
    if image.dtype != np.uint8:
        return np.rint(blocks.astype(np.float32).mean(axis=(1, 3))).astype(np.uint8)
    # uint8: the block sums are exact integers, so summing them as such and dividing in
    # float32 is bit for bit the float32 mean above, 5x faster (it is on every request)
    total = blocks[:, 0, :, 0].astype(np.uint32)
    for i in range(fh):
        for j in range(fw):
            if i or j:
                total += blocks[:, i, :, j]
    return np.rint(total.astype(np.float32) / np.float32(fh * fw)).astype(np.uint8)


def rotation_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: (3,) axis-angle -> (3, 3) rotation matrix."""
    angle = float(np.linalg.norm(axis_angle))
    if angle < 1e-9:
        return np.eye(3)
    k = axis_angle / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def state_features(state: np.ndarray) -> np.ndarray:
    """(8,) eef pos + axis-angle + 2 finger qpos -> (14,) pos, flattened rotation, fingers."""
    state = np.asarray(state, dtype=np.float64)
    parts = [state[:3], rotation_matrix(state[3:6]).reshape(-1), state[6:8]]
    return np.concatenate(parts).astype(np.float32)


STATE_FEATURES = 14
