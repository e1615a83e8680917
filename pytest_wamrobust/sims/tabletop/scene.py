"""The scene as data (`SceneSpec`) and its one translation to MJCF.

Every axis that changes the scene edits a SceneSpec (scene_axes.py) before anything is
compiled, so the clean scene and an identity-perturbed one are the same data and so the
same model, bit for bit. Positions of props are relative to the table top, so a table
height change carries the objects with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pytest_wamrobust.sims.tabletop import robot
from pytest_wamrobust.sims.tabletop.textures import Surface

AGENTVIEW = "agentview"
ROBOT_BASE = (-0.56, 0.0, 0.12)
TABLE_HALF = (0.45, 0.6)
#: Where the third-person camera looks, relative to the table top.
LOOK_AT = (-0.15, 0.0, 0.15)


@dataclass(frozen=True)
class CameraPose:
    """Orbit parameters about LOOK_AT plus an in-place rotation (degrees)."""

    azimuth_deg: float = 0.0
    elevation_deg: float = 35.0
    distance: float = 0.95
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    fovy: float = 45.0


@dataclass(frozen=True)
class Light:
    azimuth_deg: float = 35.0
    elevation_deg: float = 60.0
    diffuse: tuple[float, float, float] = (0.75, 0.75, 0.75)
    ambient: tuple[float, float, float] = (0.3, 0.3, 0.3)


@dataclass(frozen=True)
class Prop:
    """A body on the table: `geoms` is its MJCF content; `radius` its footprint."""

    name: str
    x: float
    y: float
    geoms: str
    radius: float
    yaw: float = 0.0
    z: float = 0.0
    free: bool = True


@dataclass(frozen=True)
class SceneSpec:
    image_size: int = 128
    camera: CameraPose = CameraPose()
    light: Light = Light()
    table: Surface = Surface((0.62, 0.48, 0.33))
    wall: Surface = Surface((0.72, 0.74, 0.78))
    table_z: float = 0.0
    props: tuple[Prop, ...] = field(default_factory=tuple)


def _rotate(v: np.ndarray, axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues' rotation; exact for 0 degrees, which keeps identity cameras bit-equal."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return v * c + np.cross(axis, v) * s + axis * np.dot(axis, v) * (1 - c)


def camera_frame(pose: CameraPose, table_z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World position and the camera's x (right) and y (up) axes."""
    az, el = math.radians(pose.azimuth_deg), math.radians(pose.elevation_deg)
    target = np.array([LOOK_AT[0], LOOK_AT[1], table_z + LOOK_AT[2]])
    offset = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    pos = target + pose.distance * offset
    forward = -offset
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    forward, right = _rotate(forward, up, pose.yaw_deg), _rotate(right, up, pose.yaw_deg)
    forward, up = _rotate(forward, right, pose.pitch_deg), _rotate(up, right, pose.pitch_deg)
    right, up = _rotate(right, forward, pose.roll_deg), _rotate(up, forward, pose.roll_deg)
    return pos, right, up


def _vec(v) -> str:
    return " ".join(repr(float(c)) for c in v)


def _prop_xml(prop: Prop, table_z: float) -> str:
    joint = f'<freejoint name="{prop.name}_joint"/>' if prop.free else ""
    quat = (math.cos(prop.yaw / 2), 0.0, 0.0, math.sin(prop.yaw / 2))
    return (f'<body name="{prop.name}" pos="{_vec((prop.x, prop.y, table_z + prop.z))}" '
            f'quat="{_vec(quat)}">{joint}{prop.geoms}</body>')


def to_mjcf(scene: SceneSpec) -> str:
    """The whole world as one MJCF string (textures are filled in after compiling)."""
    pos, right, up = camera_frame(scene.camera, scene.table_z)
    light = scene.light
    az, el = math.radians(light.azimuth_deg), math.radians(light.elevation_deg)
    light_dir = -np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    arm, actuators = robot.panda_mjcf(ROBOT_BASE)
    tz = scene.table_z
    hx, hy = TABLE_HALF
    props = "".join(_prop_xml(p, tz) for p in scene.props)
    return f"""
<mujoco model="wamrobust_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0 0 0" diffuse="0 0 0" specular="0 0 0"/>
    <global offwidth="{scene.image_size}" offheight="{scene.image_size}"/>
  </visual>
  <default>
    {robot.DEFAULTS}
    <default class="object"><geom friction="1.5 0.02 0.001" condim="4" solref="0.005 1"/></default>
    <default class="fixture"><geom friction="1 0.02 0.001" condim="3"/></default>
    <default class="visual"><geom contype="0" conaffinity="0"/></default>
  </default>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.55 0.6 0.65" rgb2="0.2 0.2 0.22"
             width="32" height="32"/>
    <texture name="table_tex" type="2d" builtin="flat" width="64" height="64" rgb1="1 1 1"/>
    <texture name="wall_tex" type="2d" builtin="flat" width="64" height="64" rgb1="1 1 1"/>
    <material name="table" texture="table_tex" texrepeat="2 2" specular="0.1"/>
    <material name="wall" texture="wall_tex" texrepeat="3 3"/>
    <material name="robot" rgba="0.93 0.93 0.93 1" specular="0.3"/>
    <material name="robot_dark" rgba="0.25 0.25 0.27 1"/>
  </asset>
  <worldbody>
    <light name="key" directional="true" castshadow="false" dir="{_vec(light_dir)}"
           diffuse="{_vec(light.diffuse)}" ambient="{_vec(light.ambient)}" specular="0.2 0.2 0.2"/>
    <camera name="{AGENTVIEW}" pos="{_vec(pos)}" xyaxes="{_vec(right)} {_vec(up)}"
            fovy="{scene.camera.fovy}"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.8" material="wall"/>
    <geom name="wall" type="box" size="0.02 2 1.2" pos="-1.3 0 0.2" material="wall"/>
    <geom name="table" type="box" size="{hx} {hy} 0.03" pos="0 0 {tz - 0.03!r}" material="table"/>
    <geom name="pedestal" type="box" size="0.12 0.12 0.46" pos="{ROBOT_BASE[0]} 0 -0.34"
          material="robot_dark"/>
    {arm}
    {props}
  </worldbody>
  <actuator>{actuators}</actuator>
</mujoco>"""
