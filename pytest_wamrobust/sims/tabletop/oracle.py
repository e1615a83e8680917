"""The privileged tabletop oracle: waypoint plans over `Observation.privileged` only.

Each plan is stateless - the phase (approach, descend, grasp, carry, release, hook,
push) is read off the current simulator state at every replan - so the oracle recovers
from slips and from perturbed starts (robot_init, layout) by construction. It never
sees the perturbation parameters, and it is blind to camera, light and image noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import POLICY_ERROR, EpisodeError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import Observation, PolicyMetadata
from pytest_wamrobust.sims.grip_pose import pointing_down, rotation_error
from pytest_wamrobust.sims.oracle_chunking import chunking
from pytest_wamrobust.sims.tabletop.controller import POS_SCALE, ROT_SCALE

OPEN, CLOSE = -1.0, 1.0
MAX_SPEED = 0.4  # fraction of the 5 cm/step action scale: 2 cm per step
HOVER = 0.14  # above the table: clears every fixture
Target = tuple[np.ndarray, float, float]  # eef position, gripper command, yaw (rad)


def _yaw(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def _grasp_yaw(quat: np.ndarray) -> float:
    """A hand yaw whose fingers close on two faces of a box (cube symmetry: 90 deg)."""
    return (_yaw(quat) + math.pi / 4) % (math.pi / 2) - math.pi / 4


def _move(e: np.ndarray, goal: np.ndarray, low: float, xy_tol: float = 0.015) -> np.ndarray:
    """Next waypoint toward `goal`: rise to `low` first when far in xy and below it."""
    far = np.hypot(*(goal[:2] - e[:2])) > xy_tol
    if far and e[2] < low - 0.02:
        return np.array([e[0], e[1], low])
    if far:
        return np.array([goal[0], goal[1], max(low, goal[2])])
    return goal


def _holding(p: Mapping[str, Any]) -> bool:
    o, e = p["object_pos"], p["eef_pos"]
    near = np.hypot(*(o[:2] - e[:2])) < 0.02 and abs(o[2] - e[2]) < 0.025
    return near and 0.003 < p["gripper_opening"] < p["object_width"] - 0.002


def _pick(p: Mapping[str, Any], after: np.ndarray) -> Target:
    """Grasp the object, then bring it to `after` (the carry waypoint)."""
    e, o = p["eef_pos"], p["object_pos"]
    yaw = _grasp_yaw(p["object_quat"])
    hover = p["table_z"] + HOVER
    if _holding(p):
        return after, CLOSE, yaw
    if np.linalg.norm(o - e) < 0.012:
        return o, CLOSE, yaw
    if np.hypot(*(o[:2] - e[:2])) < 0.012:
        return o, OPEN, yaw
    return _move(e, np.array([o[0], o[1], hover]), hover - 0.05), OPEN, yaw


def plan_lift(p: Mapping[str, Any]) -> Target:
    o = p["object_pos"]
    return _pick(p, np.array([o[0], o[1], p["table_z"] + 0.2]))


def plan_place(p: Mapping[str, Any]) -> Target:
    e, o, g = p["eef_pos"], p["object_pos"], p["goal_pos"]
    hover = p["table_z"] + HOVER
    release = g[2] + p["goal_top"] + p["object_half"] + 0.008
    over_goal = np.hypot(*(o[:2] - g[:2])) < 0.015
    if not _holding(p) and over_goal and o[2] < release + 0.02:
        return np.array([e[0], e[1], hover]), OPEN, 0.0  # released: back off
    if _holding(p) and over_goal and abs(o[2] - release) < 0.012:
        return e, OPEN, _grasp_yaw(p["object_quat"])
    carry = _move(o, np.array([g[0], g[1], release]), max(hover, release + 0.03), 0.01)
    return _pick(p, e + (carry - o))


def plan_push(p: Mapping[str, Any]) -> Target:
    e, o, g = p["eef_pos"], p["object_pos"], p["goal_pos"]
    low = p["table_z"] + 0.02
    hover = p["table_z"] + 0.09
    d = g[:2] - o[:2]
    d = d / max(np.linalg.norm(d), 1e-9)
    yaw = (math.atan2(d[1], d[0]) + math.pi / 2) % math.pi - math.pi / 2  # pusher is symmetric
    behind = o[:2] - d * (p["object_half"] + 0.03)
    rel = e[:2] - o[:2]
    along = float(rel @ d)
    lateral = abs(float(rel[0] * d[1] - rel[1] * d[0]))
    if along < -p["object_half"] and lateral < 0.015 and e[2] < low + 0.02:
        stop = g[:2] - d * (p["object_half"] + 0.012)
        return np.array([stop[0], stop[1], low]), CLOSE, yaw
    if np.hypot(*(behind - e[:2])) < 0.012:
        return np.array([behind[0], behind[1], low]), CLOSE, yaw
    return _move(e, np.array([behind[0], behind[1], hover]), hover - 0.01, 0.012), CLOSE, yaw


def _drawer(p: Mapping[str, Any], offset: float, drive: float) -> Target:
    """Put the closed fingers at handle + `offset` (x), then drive toward x + `drive`."""
    e, h = p["eef_pos"], p["handle_pos"]
    spot = h + np.array([offset, 0.0, 0.0])
    if abs(e[1] - h[1]) < 0.02 and abs(e[2] - h[2]) < 0.02 and abs(e[0] - spot[0]) < 0.025:
        return spot + np.array([drive, 0.0, 0.0]), CLOSE, 0.0
    hover = h[2] + 0.1
    if np.hypot(*(spot[:2] - e[:2])) < 0.008:
        return spot, CLOSE, 0.0
    return _move(e, np.array([spot[0], spot[1], hover]), hover - 0.02, 0.008), CLOSE, 0.0


def plan_open_drawer(p: Mapping[str, Any]) -> Target:
    return _drawer(p, 0.0, -0.06)


def plan_close_drawer(p: Mapping[str, Any]) -> Target:
    return _drawer(p, -0.045, 0.06)


PLANS = {
    "lift": plan_lift,
    "place": plan_place,
    "push": plan_push,
    "open_drawer": plan_open_drawer,
    "close_drawer": plan_close_drawer,
}


class TabletopOracle:
    """Turns the current waypoint into a chunk of delta-eef actions (P-control, capped)."""

    def __init__(self, chunk_length: int = 10, replan_steps: int = 5) -> None:
        self.metadata = PolicyMetadata("scripted", chunk_length, replan_steps,
                                       family="oracle", privileged=True)

    def reset(self, task: str, seed: int) -> None:
        """The oracle is deterministic and stateless between calls."""

    def infer(self, observation: Observation) -> np.ndarray:
        p = observation.privileged
        if p.get("plan") not in PLANS:
            raise EpisodeError(POLICY_ERROR, "the scripted oracle needs the tabletop's "
                               "privileged state (plan, poses); this env did not provide it")
        target, gripper, yaw = PLANS[p["plan"]](p)
        rot = rotation_error(p["eef_xmat"], pointing_down(yaw))
        e = np.array(p["eef_pos"], dtype=float)
        chunk = np.zeros((self.metadata.chunk_length, 7))
        for k in range(self.metadata.chunk_length):
            step = np.clip((target - e) / POS_SCALE, -MAX_SPEED, MAX_SPEED)
            turn = np.clip(0.5 * rot / ROT_SCALE, -1.0, 1.0)
            chunk[k, :3], chunk[k, 3:6], chunk[k, 6] = step, turn, gripper
            e = e + step * POS_SCALE
            rot = rot - turn * ROT_SCALE
        return chunk


def make_oracle(ctx: PolicyContext) -> TabletopOracle:
    """The `tabletop` entry of `pytest_wamrobust.oracles`; `--policy-arg chunk_length=N`
    and `replan_steps=M` imitate another model's chunking."""
    return TabletopOracle(*chunking(ctx, chunk_length=10, replan_steps=5))
