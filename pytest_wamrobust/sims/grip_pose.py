"""Top-down gripper orientations for the scripted oracles: the one pose math the
tabletop and LIBERO oracles share (both command a world-frame axis-angle delta)."""

from __future__ import annotations

import math

import numpy as np


def pointing_down(yaw: float) -> np.ndarray:
    """Gripper orientation pointing down whose fingers close along `yaw` (rest: yaw 0)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])


def rotation_error(current: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """World-frame axis-angle taking `current` to `desired`."""
    r = desired @ current.T
    angle = math.acos(float(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0)))
    if angle < 1e-6:
        return np.zeros(3)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    norm = np.linalg.norm(axis)
    if norm < 1e-9:  # 180 degrees: any perpendicular axis does
        return np.array([math.pi, 0.0, 0.0])
    return axis / norm * angle
