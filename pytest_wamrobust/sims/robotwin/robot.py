"""Two arms on a table, as SAPIEN articulations, driven by end-effector targets.

Each control step the env turns the (position, yaw, gripper) target of each arm into
joint targets with the closed-form IK of `arm.py`; the joints' PD drives do the rest,
so contacts, grasps and collisions are PhysX's, not scripted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytest_wamrobust.sims.robotwin.arm import (
    ARM_JOINTS,
    FINGER_LEN,
    FINGER_OPEN,
    FORE,
    PALM,
    PEDESTAL,
    ROLL_LIMIT,
    UPPER,
    WRIST_LINK,
    ArmKinematics,
    EefTarget,
    quat_axis_angle,
)

#: World x of the two bases; both stand at the near table edge and face +y.
BASE_Y = -0.36
BASE_X = {"left": -0.30, "right": 0.30}
#: Grasp-centre rest positions (the clean initial state, before robot_init offsets).
HOME = {"left": np.array([-0.22, -0.12, 0.22]), "right": np.array([0.22, -0.12, 0.22])}
_ARM_COLOR = {"left": [0.25, 0.25, 0.28, 1.0], "right": [0.28, 0.25, 0.25, 1.0]}
_SELF_GROUP = {"left": 1 << 1, "right": 1 << 2}
_X_TO_Z = quat_axis_angle((0.0, 1.0, 0.0), -math.pi / 2)
_X_TO_Y = quat_axis_angle((0.0, 0.0, 1.0), math.pi / 2)
_X_TO_NEG_Y = quat_axis_angle((0.0, 0.0, 1.0), -math.pi / 2)


class Arm:
    """One arm: its articulation, kinematics and current end-effector target."""

    def __init__(self, scene: Any, side: str, table_z: float, visuals: bool,
                 material: Any) -> None:
        import sapien

        self.side = side
        self.kin = ArmKinematics((BASE_X[side], BASE_Y), table_z)
        self.articulation = _build(scene, side, visuals, material)
        self.articulation.set_root_pose(sapien.Pose(
            [BASE_X[side], BASE_Y, table_z], quat_axis_angle((0.0, 0.0, 1.0), math.pi / 2)))
        self.joints = self.articulation.get_active_joints()
        for i, joint in enumerate(self.joints):
            if i < ARM_JOINTS:
                joint.set_drive_properties(4000.0, 400.0, 1000.0)
            else:
                joint.set_drive_properties(3000.0, 100.0, 100.0)
        for link in self.articulation.get_links():
            link.disable_gravity = True
        self.hand = self.articulation.find_link_by_name(f"{side}_hand")
        self.target = self.kin.forward(np.zeros(ARM_JOINTS))
        self.gripper_open = 1.0

    def reset(self, arm_q: np.ndarray, gripper_open: float) -> None:
        """Teleport to joint angles `arm_q` with the gripper `gripper_open` (0..1)."""
        qpos = np.concatenate([arm_q, [FINGER_OPEN * gripper_open] * 2])
        self.articulation.set_qpos(qpos)
        self.articulation.set_qvel(np.zeros_like(qpos))
        self.target = self.kin.forward(arm_q)
        self.gripper_open = gripper_open
        self._drive(arm_q)

    def command(self, target: EefTarget, gripper_open: float) -> None:
        self.target = target
        self.gripper_open = float(np.clip(gripper_open, 0.0, 1.0))
        self._drive(self.kin.inverse(target, roll_near=float(self.qpos[ARM_JOINTS - 1])))

    def _drive(self, arm_q: np.ndarray) -> None:
        for joint, q in zip(self.joints[:ARM_JOINTS], arm_q, strict=True):
            joint.set_drive_target(float(q))
        for joint in self.joints[ARM_JOINTS:]:
            joint.set_drive_target(FINGER_OPEN * self.gripper_open)

    @property
    def qpos(self) -> np.ndarray:
        return np.asarray(self.articulation.get_qpos(), dtype=float)

    def eef(self) -> EefTarget:
        """Where the grasp centre actually is (forward kinematics of measured joints)."""
        return self.kin.forward(self.qpos[:ARM_JOINTS])

    def opening(self) -> float:
        """Measured gripper opening, 0 (closed) .. 1 (open)."""
        return float(np.mean(self.qpos[ARM_JOINTS:]) / FINGER_OPEN)


def _build(scene: Any, side: str, visuals: bool, material: Any) -> Any:
    """The articulation of one arm; visual shapes only when the scene renders."""
    import sapien

    color = _ARM_COLOR[side]
    builder = scene.create_articulation_builder()

    def link(parent: Any, name: str, boxes: list[tuple[list[float], list[float]]],
             color: list[float] = color) -> Any:
        lb = builder.create_link_builder(parent)
        lb.set_name(f"{side}_{name}")
        # Links of one arm never collide with each other (PhysX group-2 mask).
        lb.collision_groups = [1, 1, _SELF_GROUP[side], 0]
        for center, half in boxes:
            # A patch radius gives the pads torsional friction: held objects do not spin.
            lb.add_box_collision(sapien.Pose(center), half, material=material, density=500,
                                 patch_radius=0.01, min_patch_radius=0.005)
            if visuals:
                lb.add_box_visual(sapien.Pose(center), half,
                                  material=sapien.render.RenderMaterial(base_color=color))
        return lb

    base = link(None, "base", [([0, 0, PEDESTAL / 2], [0.05, 0.05, PEDESTAL / 2])])
    turret = link(base, "turret", [([0, 0, 0], [0.035, 0.035, 0.03])])
    turret.set_joint_properties("revolute", [[-math.pi, math.pi]],
                                sapien.Pose([0, 0, PEDESTAL], _X_TO_Z),
                                sapien.Pose([0, 0, 0], _X_TO_Z))
    upper = link(turret, "upper", [([UPPER / 2, 0, 0], [UPPER / 2, 0.025, 0.025])])
    upper.set_joint_properties("revolute", [[-2.6, 2.6]], sapien.Pose([0, 0, 0], _X_TO_Y),
                               sapien.Pose([0, 0, 0], _X_TO_Y))
    fore = link(upper, "fore", [([FORE / 2, 0, 0], [FORE / 2, 0.02, 0.02])])
    fore.set_joint_properties("revolute", [[-2.8, 2.8]], sapien.Pose([UPPER, 0, 0], _X_TO_Y),
                              sapien.Pose([0, 0, 0], _X_TO_Y))
    wrist = link(fore, "wrist", [([WRIST_LINK / 2, 0, 0], [WRIST_LINK / 2, 0.02, 0.02])])
    wrist.set_joint_properties("revolute", [[-2.8, 2.8]], sapien.Pose([FORE, 0, 0], _X_TO_Y),
                               sapien.Pose([0, 0, 0], _X_TO_Y))
    hand = link(wrist, "hand", [([PALM - 0.01, 0, 0], [0.01, 0.06, 0.02])],
                color=[0.15, 0.15, 0.15, 1.0])
    hand.set_joint_properties("revolute", [[-ROLL_LIMIT, ROLL_LIMIT]],
                              sapien.Pose([WRIST_LINK, 0, 0]), sapien.Pose([0, 0, 0]))
    for name, frame, sign in (("finger_a", _X_TO_Y, 1.0), ("finger_b", _X_TO_NEG_Y, -1.0)):
        # The child frame stays aligned with the hand; the pad's inner face is at the
        # joint origin, so the opening between the pads is twice the joint position.
        pad = ([FINGER_LEN / 2, sign * 0.006, 0], [FINGER_LEN / 2, 0.006, 0.015])
        finger = link(hand, name, [pad], color=[0.7, 0.7, 0.72, 1.0])
        finger.set_joint_properties("prismatic", [[0.0, FINGER_OPEN]],
                                    sapien.Pose([PALM, 0, 0], frame), sapien.Pose([0, 0, 0], frame))
    return builder.build(fix_root_link=True)

