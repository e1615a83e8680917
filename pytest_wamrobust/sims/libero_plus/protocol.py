"""The standard LIBERO-Plus evaluation protocol, in one place.

One trial per variant: env.seed(7), reset, set_init_state(init_states[0]), ten no-op
steps so objects settle, then at most the sub-suite's step limit. Images are rendered
at 256 px (the fog corruption hard-codes 256). These are the numbers every published
LIBERO / LIBERO-Plus result (and openpi's LIBERO client) uses.
"""

from __future__ import annotations

import math

import numpy as np

#: The four LIBERO sub-suites LIBERO-Plus perturbs, in its order.
SUB_SUITES: tuple[str, ...] = ("libero_spatial", "libero_object", "libero_goal", "libero_10")

#: Published variant counts; a run that enumerates fewer is truncated (upstream bug 3).
SUB_SUITE_SIZES: dict[str, int] = {
    "libero_spatial": 2402,
    "libero_object": 2518,
    "libero_goal": 2591,
    "libero_10": 2519,
}
AXIS_SIZES: dict[str, int] = {
    "noise": 1601,
    "camera": 1599,
    "robot_init": 1550,
    "language": 1537,
    "layout": 1525,
    "light": 1142,
    "background": 1076,
}

#: Steps a policy gets after the no-op settling, per sub-suite (openpi's LIBERO client).
MAX_STEPS: dict[str, int] = {
    "libero_spatial": 220,
    "libero_object": 280,
    "libero_goal": 300,
    "libero_10": 520,
}
ENV_SEED = 7
INIT_STATE_INDEX = 0
#: Clean cases s00-s09 start from LIBERO's recorded init states 0-9 (s00, init state 0,
#: is the protocol's); demonstrations (`wamrobust record`) use init states 10 and up, so
#: a recorded scene is never a tested one.
TEST_INIT_STATES = 10
NUM_SETTLE_STEPS = 10
RESOLUTION = 256
CONTROL_HZ = 20.0

#: LIBERO's action: OSC_POSE deltas (xyz, axis-angle) in [-1, 1] and the gripper,
#: -1 open / +1 close.
ACTION_DIM = 7
NOOP_ACTION = np.array([0.0] * 6 + [-1.0])

AGENTVIEW = "agentview"
WRIST = "robot0_eye_in_hand"


def quat2axisangle(quat: np.ndarray) -> np.ndarray:
    """robosuite's (x, y, z, w) quaternion to an axis-angle vector, as openpi's client
    computes the state (robosuite's own helper clips the angle the same way)."""
    quat = np.asarray(quat, dtype=np.float64).copy()
    quat[3] = min(max(quat[3], -1.0), 1.0)
    den = math.sqrt(1.0 - quat[3] * quat[3])
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return quat[:3] * 2.0 * math.acos(quat[3]) / den


def state_from_obs(obs: dict) -> np.ndarray:
    """The 8-dim state of openpi's LIBERO client: eef position, eef axis-angle,
    gripper finger positions (2)."""
    return np.concatenate(
        (
            np.asarray(obs["robot0_eef_pos"], dtype=np.float64),
            quat2axisangle(obs["robot0_eef_quat"]),
            np.asarray(obs["robot0_gripper_qpos"], dtype=np.float64),
        )
    )
