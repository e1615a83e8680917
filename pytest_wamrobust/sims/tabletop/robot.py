"""A Franka Panda from primitive geoms: the real kinematics, simple shapes.

Body offsets and joint axes follow Franka's published (modified) DH parameters
(d1 0.333, d3 0.316, a3 0.0825, a4 -0.0825, d5 0.384, a6 0.088, flange 0.107) in
the same frame layout as mujoco_menagerie's panda.xml; the links are capsules, the
hand a box, the fingers friction pads on slide joints 0-4 cm. Links are gravity
compensated and driven by stiff joint-position servos, as a torque-controlled Panda
under an impedance controller behaves.
"""

from __future__ import annotations

import numpy as np

JOINTS: tuple[str, ...] = tuple(f"joint{i}" for i in range(1, 8))
FINGERS: tuple[str, ...] = ("finger_joint1", "finger_joint2")
#: Joint limits from Franka's datasheet (rad).
JOINT_LIMITS = np.array([
    (-2.8973, 2.8973), (-1.7628, 1.7628), (-2.8973, 2.8973), (-3.0718, -0.0698),
    (-2.8973, 2.8973), (-0.0175, 3.7525), (-2.8973, 2.8973),
])
#: robosuite's Panda rest pose: hand above the table, fingers pointing down.
HOME_QPOS = np.array([0.0, np.pi / 16, 0.0, -np.pi / 2 - np.pi / 3, 0.0, np.pi - 0.2, np.pi / 4])
FINGER_OPEN = 0.04
EEF_SITE = "grip_site"
WRIST_CAMERA = "wrist"

# (pos, quat, capsule from-to in the link frame, radius)
_LINKS = (
    ("0 0 0.333", "1 0 0 0", "0 0 -0.19 0 0 -0.03", 0.06),
    ("0 0 0", "1 -1 0 0", "0 0 -0.06 0 0 0.06", 0.06),
    ("0 -0.316 0", "1 1 0 0", "0 0 -0.12 0 0 -0.02", 0.06),
    ("0.0825 0 0", "1 1 0 0", "0 0 -0.06 0 0 0.06", 0.055),
    ("-0.0825 0.384 0", "1 -1 0 0", "0 0 -0.26 0 0 -0.03", 0.055),
    ("0 0 0", "1 1 0 0", "0 0 -0.04 0 0 0.03", 0.05),
    ("0.088 0 0", "1 1 0 0", "0 0 -0.03 0 0 0.06", 0.045),
)
#: Joint servo stiffness (N m/rad) and damping, near critical for each link's inertia.
_GAINS = ((4000, 200), (4000, 200), (3000, 120), (3000, 120), (1500, 40), (1000, 25), (600, 12))


def panda_mjcf(base_pos: tuple[float, float, float]) -> tuple[str, str]:
    """The arm's (worldbody, actuator) MJCF fragments, mounted at `base_pos`."""
    body = (f'<body name="link0" pos="{base_pos[0]} {base_pos[1]} {base_pos[2]}">'
            '<geom type="cylinder" size="0.07 0.06" pos="0 0 0.06" material="robot" class="link"/>')
    close = "</body>"
    for i, (pos, quat, fromto, radius) in enumerate(_LINKS, start=1):
        lo, hi = JOINT_LIMITS[i - 1]
        body += (f'<body name="link{i}" pos="{pos}" quat="{quat}" gravcomp="1">'
                 f'<joint name="joint{i}" range="{lo} {hi}" class="arm"/>'
                 f'<geom type="capsule" fromto="{fromto}" size="{radius}" class="link" '
                 f'material="{"robot" if i % 2 else "robot_dark"}" '
                 f'mass="{max(0.6, 3.0 - 0.35 * i)}"/>')
        close += "</body>"
    body += (
        '<body name="hand" pos="0 0 0.107" quat="0.9238795 0 0 -0.3826834" gravcomp="1">'
        '<geom type="box" size="0.025 0.09 0.025" pos="0 0 0.03" material="robot" mass="0.6" '
        'class="link"/>'
        '<geom type="cylinder" size="0.035 0.01" pos="0 0 0" material="robot_dark" mass="0.1" '
        'class="link"/>'
        f'<site name="{EEF_SITE}" pos="0 0 0.1034" size="0.004" rgba="1 0 0 0" group="4"/>'
        f'<camera name="{WRIST_CAMERA}" pos="0.06 0 0.02" quat="0 0.7071068 0.7071068 0" '
        'fovy="75"/>'
        '<body name="left_finger" pos="0 0 0.0584" gravcomp="1">'
        '<joint name="finger_joint1" type="slide" axis="0 1 0" range="0 0.04" class="finger"/>'
        '<geom type="box" size="0.009 0.006 0.027" pos="0 0.008 0.027" class="pad"/>'
        '</body>'
        '<body name="right_finger" pos="0 0 0.0584" gravcomp="1">'
        '<joint name="finger_joint2" type="slide" axis="0 -1 0" range="0 0.04" class="finger"/>'
        '<geom type="box" size="0.009 0.006 0.027" pos="0 -0.008 0.027" class="pad"/>'
        '</body>'
        '</body>'
    )
    actuators = "".join(
        f'<position name="act{i}" joint="joint{i}" kp="{kp}" kv="{kv}" '
        f'ctrlrange="{JOINT_LIMITS[i - 1][0]} {JOINT_LIMITS[i - 1][1]}"/>'
        for i, (kp, kv) in enumerate(_GAINS, start=1)
    )
    actuators += "".join(
        f'<position name="act_{f}" joint="{f}" kp="300" kv="10" ctrlrange="0 0.04" '
        f'forcerange="-25 25"/>' for f in FINGERS
    )
    return body + close, actuators


#: Defaults the fragments refer to (joint damping, finger friction).
DEFAULTS = (
    '<default class="arm"><joint axis="0 0 1" damping="5" armature="0.1"/></default>'
    '<default class="finger"><joint damping="2" armature="0.01"/></default>'
    '<default class="pad"><geom friction="2 0.05 0.001" condim="4" material="robot_dark" '
    'mass="0.05" solref="0.005 1" contype="2" conaffinity="1"/></default>'
    # The arm never collides with itself (contype 2 vs conaffinity 1), only with the world.
    '<default class="link"><geom contype="2" conaffinity="1"/></default>'
)
