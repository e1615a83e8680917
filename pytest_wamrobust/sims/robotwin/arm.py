"""A 5-DoF arm with a parallel gripper, built from primitives, and its kinematics.

Joints: base yaw, shoulder, elbow and wrist pitch, wrist roll, then two prismatic
fingers. The hand is kept pointing straight down, so an end-effector target is a tip
position plus a gripper yaw and the inverse kinematics is closed-form (yaw, then a
planar two-link solve): exact, branch-free and fast enough to run every control step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Link lengths (m): pedestal height, upper arm, forearm, wrist pivot to grasp centre.
PEDESTAL = 0.20
UPPER = 0.33
FORE = 0.33
WRIST_LINK = 0.03
PALM = 0.07
FINGER_LEN = 0.07
HAND = WRIST_LINK + PALM + FINGER_LEN / 2
FINGER_OPEN = 0.045
ARM_JOINTS = 5
ROLL_LIMIT = math.pi
#: Names of the joints of one arm, in qpos order (fingers last).


def quat_axis_angle(axis: tuple[float, float, float], angle: float) -> list[float]:
    """(w, x, y, z) quaternion of a rotation, SAPIEN's convention."""
    half = angle / 2.0
    s = math.sin(half)
    return [math.cos(half), axis[0] * s, axis[1] * s, axis[2] * s]


@dataclass(frozen=True)
class EefTarget:
    """Grasp-centre position (world) and gripper yaw (rad); the hand points down."""

    pos: np.ndarray
    yaw: float


class ArmKinematics:
    """Forward and inverse kinematics of one arm mounted at `base_xy`, facing +y."""

    def __init__(self, base_xy: tuple[float, float], table_z: float = 0.0) -> None:
        self.base = np.array([base_xy[0], base_xy[1], table_z + PEDESTAL])

    def _to_local(self, pos: np.ndarray) -> np.ndarray:
        # The base faces +y: local x is world +y, local y is world -x.
        d = np.asarray(pos, dtype=float) - self.base
        return np.array([d[1], -d[0], d[2]])

    def _to_world(self, local: np.ndarray) -> np.ndarray:
        return self.base + np.array([-local[1], local[0], local[2]])

    def inverse(self, target: EefTarget, roll_near: float = 0.0) -> np.ndarray:
        """Joint angles (5) that put the grasp centre at `target` with the hand down.

        The gripper looks the same after a half turn, so the wrist roll is the one
        nearest `roll_near` (the current roll): it never flips 180 deg in one step.

        Unreachable targets are pulled onto the reachable sphere, as a real
        controller saturates, instead of failing the episode.
        """
        local = self._to_local(target.pos)
        q0 = math.atan2(local[1], local[0])
        r = math.hypot(local[0], local[1])
        zw = local[2] + HAND
        d = math.hypot(r, zw)
        d_max = UPPER + FORE - 1e-3
        d_min = abs(UPPER - FORE) + 0.05
        if d > d_max or d < d_min:
            scale = min(max(d, d_min), d_max) / max(d, 1e-9)
            r, zw, d = r * scale, zw * scale, min(max(d, d_min), d_max)
        phi = math.atan2(zw, r)
        beta = math.acos(max(-1.0, min(1.0, (UPPER**2 + d**2 - FORE**2) / (2 * UPPER * d))))
        e1 = phi + beta
        ex, ez = UPPER * math.cos(e1), UPPER * math.sin(e1)
        e2 = math.atan2(zw - ez, r - ex)
        q4 = _wrap_half_turn(q0 + math.pi / 2 - target.yaw - roll_near) + roll_near
        if abs(q4) > ROLL_LIMIT:
            q4 -= math.copysign(math.pi, q4)
        return np.array([q0, -e1, e1 - e2, e2 + math.pi / 2, q4])

    def forward(self, q: np.ndarray) -> EefTarget:
        """Grasp-centre position and gripper yaw of joint angles `q` (5)."""
        q0, q1, q2, q3, q4 = (float(v) for v in q[:ARM_JOINTS])
        e1 = -q1
        e2 = e1 - q2
        e3 = e2 - q3
        r = UPPER * math.cos(e1) + FORE * math.cos(e2) + HAND * math.cos(e3)
        z = UPPER * math.sin(e1) + FORE * math.sin(e2) + HAND * math.sin(e3)
        local = np.array([r * math.cos(q0), r * math.sin(q0), z])
        return EefTarget(self._to_world(local), _wrap_half_turn(q0 + math.pi / 2 - q4))


def _wrap_half_turn(angle: float) -> float:
    """The gripper is symmetric under a half turn: keep angles in [-pi/2, pi/2)."""
    return (angle + math.pi / 2) % math.pi - math.pi / 2
