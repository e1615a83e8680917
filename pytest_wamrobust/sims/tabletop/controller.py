"""Delta end-effector control: a LIBERO-style action -> joint-position targets.

A normalised action (dpos 3, daxis-angle 3, gripper 1) is scaled like robosuite's
OSC_POSE (0.05 m and 0.5 rad per step at |a| = 1), turned into a joint step by damped
least squares on the site Jacobian, with a null-space pull toward the rest pose so the
redundant seventh joint does not drift; the joint servos then track it for one control
period of physics.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from pytest_wamrobust.sims.tabletop import robot

POS_SCALE = 0.05
ROT_SCALE = 0.5
DAMPING = 0.05
NULLSPACE_GAIN = 0.2
CONTROL_HZ = 20.0


def quat_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """Axis-angle (3,) of a unit quaternion (w, x, y, z), as robosuite's quat2axisangle."""
    w = float(np.clip(quat[0], -1.0, 1.0))
    if w < 0:
        quat, w = -quat, -w
    s = np.sqrt(max(1.0 - w * w, 0.0))
    if s < 1e-9:
        return np.zeros(3)
    return quat[1:] / s * 2.0 * np.arccos(w)


class DeltaEefController:
    """Owns the arm's actuators; `apply` sets their targets for the next control period."""

    def __init__(self, mujoco: ModuleType, model: Any, data: Any) -> None:
        self._mj = mujoco
        self.model, self.data = model, data
        self.site = model.site(robot.EEF_SITE).id
        self.qpos_idx = np.array([model.joint(j).qposadr[0] for j in robot.JOINTS])
        self.dof_idx = np.array([model.joint(j).dofadr[0] for j in robot.JOINTS])
        self.arm_act = np.array([model.actuator(f"act{i}").id for i in range(1, 8)])
        self.finger_act = np.array([model.actuator(f"act_{f}").id for f in robot.FINGERS])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self.substeps = max(1, int(round(1.0 / (CONTROL_HZ * model.opt.timestep))))

    def hold(self) -> None:
        """Servo to the current joint positions (after a reset or a robot_init edit)."""
        self.data.ctrl[self.arm_act] = self.data.qpos[self.qpos_idx]

    def set_gripper(self, command: float) -> None:
        """-1 fully open .. +1 closed (LIBERO's convention)."""
        opening = robot.FINGER_OPEN * (1.0 - np.clip(command, -1.0, 1.0)) / 2.0
        self.data.ctrl[self.finger_act] = opening

    def apply(self, action: np.ndarray) -> None:
        mj, data = self._mj, self.data
        dpos = np.asarray(action[:3]) * POS_SCALE
        drot = np.asarray(action[3:6]) * ROT_SCALE
        mj.mj_jacSite(self.model, data, self._jacp, self._jacr, self.site)
        jac = np.vstack([self._jacp[:, self.dof_idx], self._jacr[:, self.dof_idx]])
        error = np.concatenate([dpos, drot])
        jjt = jac @ jac.T + DAMPING**2 * np.eye(6)
        dq = jac.T @ np.linalg.solve(jjt, error)
        q = data.qpos[self.qpos_idx]
        nullspace = np.eye(7) - np.linalg.pinv(jac) @ jac
        dq += nullspace @ (NULLSPACE_GAIN * (robot.HOME_QPOS - q))
        target = np.clip(q + dq, robot.JOINT_LIMITS[:, 0], robot.JOINT_LIMITS[:, 1])
        data.ctrl[self.arm_act] = target
        self.set_gripper(float(action[6]))

    def step(self, action: np.ndarray) -> None:
        """One control period: set targets, integrate the physics."""
        self.apply(action)
        self._mj.mj_step(self.model, self.data, nstep=self.substeps)
