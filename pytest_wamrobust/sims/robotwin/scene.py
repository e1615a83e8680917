"""The table, walls, lights and cameras, and how the scene-side axes change them.

Camera, light, background and layout are scene edits applied once when the scene is
built (dm_control's "variator before compile"); robot_init is applied by the env at
reset; noise and language are observation transforms (core/cases/observation_axes.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_wamrobust.sims.robotwin.arm import quat_axis_angle
from pytest_wamrobust.sims.tabletop.textures import Surface, render_surface

TABLE_HALF = (0.6, 0.45, 0.025)
TABLE_RGB = (0.62, 0.48, 0.34)
WALL_RGB = (0.78, 0.80, 0.82)
#: The head camera (RoboTwin's "head_camera"): behind the arms, looking down the table.
HEAD_EYE = np.array([0.0, -0.52, 0.72])
HEAD_TARGET = np.array([0.0, 0.06, 0.0])
HEAD_FOVY = math.radians(52.0)
WRIST_FOVY = math.radians(75.0)
#: Key light (azimuth, elevation) in degrees and colour, and the ambient level.
KEY_LIGHT = (35.0, 60.0, 1.6)
AMBIENT = 0.35
#: A distractor's keep-out radius per unit of its half size (the half-diagonal, rounded
#: up), and the spots tried for each before the table counts as full.
DISTRACTOR_FOOTPRINT = 1.5
PLACEMENT_TRIES = 200


@dataclass(frozen=True)
class KeepOut:
    """A disc of the table that distractors must not cover (objects, goals, arm paths)."""

    xy: tuple[float, float]
    radius: float


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation matrix of a SAPIEN camera (x forward, y left, z up) at eye -> target."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    left = np.cross([0.0, 0.0, 1.0], forward)
    left /= np.linalg.norm(left)
    up = np.cross(forward, left)
    return np.stack([forward, left, up], axis=1)


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def head_camera_pose(params: Mapping[str, Any]) -> np.ndarray:
    """4x4 pose of the head camera under camera-axis parameters (identity: clean)."""
    offset = HEAD_EYE - HEAD_TARGET
    offset = offset * float(params.get("distance_scale", 1.0))
    offset = _rot(2, math.radians(float(params.get("orbit_deg", 0.0)))) @ offset
    horizontal = math.hypot(offset[0], offset[1])
    elevation = (math.atan2(offset[2], horizontal)
                 + math.radians(float(params.get("elevation_deg", 0.0))))
    radius = float(np.linalg.norm(offset))
    heading = math.atan2(offset[1], offset[0])
    offset = radius * np.array([math.cos(elevation) * math.cos(heading),
                                math.cos(elevation) * math.sin(heading), math.sin(elevation)])
    eye = HEAD_TARGET + offset
    rotation = look_at(eye, HEAD_TARGET)
    # In-place rotation about the camera's own up (yaw), left (pitch), forward (roll) axes.
    rotation = rotation @ _rot(2, math.radians(float(params.get("yaw_deg", 0.0))))
    rotation = rotation @ _rot(1, math.radians(float(params.get("pitch_deg", 0.0))))
    rotation = rotation @ _rot(0, math.radians(float(params.get("roll_deg", 0.0))))
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = eye
    return pose


def render_material(rgba: Sequence[float]) -> Any:
    import sapien

    return sapien.render.RenderMaterial(base_color=list(rgba), roughness=0.7)


def _surface_material(surface: Mapping[str, Any] | None,
                      base_rgb: tuple[float, float, float]) -> Any:
    import sapien

    surface = surface or {}
    texture = render_surface(Surface(
        base_rgb=base_rgb,
        pattern=str(surface.get("pattern", "original")),
        shift=float(surface.get("shift", 0.0)),
        direction=tuple(surface.get("direction", (0.0, 0.0, 0.0))),
        texture_seed=int(surface.get("texture_seed", 0)),
    ))
    rgba = np.concatenate([texture, np.full(texture.shape[:2] + (1,), 255, np.uint8)], axis=2)
    material = sapien.render.RenderMaterial(base_color=[1.0, 1.0, 1.0, 1.0], roughness=0.8)
    material.base_color_texture = sapien.render.RenderTexture2D(
        np.ascontiguousarray(rgba), "R8G8B8A8Unorm", srgb=True)
    return material


def build_table(scene: Any, table_z: float, background: Mapping[str, Any], visuals: bool,
                material: Any) -> None:
    """A static table with its top at `table_z`, and walls and floor when rendering."""
    import sapien

    builder = scene.create_actor_builder()
    center = sapien.Pose([0.0, 0.0, table_z - TABLE_HALF[2]])
    builder.add_box_collision(center, TABLE_HALF, material=material)
    if visuals:
        builder.add_box_visual(center, TABLE_HALF,
                               material=_surface_material(background.get("table"), TABLE_RGB))
        wall = _surface_material(background.get("wall"), WALL_RGB)
        builder.add_box_visual(sapien.Pose([0.0, 1.2, 0.4]), [2.0, 0.02, 1.4], material=wall)
        builder.add_box_visual(sapien.Pose([-1.6, 0.0, 0.4]), [0.02, 2.0, 1.4], material=wall)
        builder.add_box_visual(sapien.Pose([1.6, 0.0, 0.4]), [0.02, 2.0, 1.4], material=wall)
        builder.add_box_visual(sapien.Pose([0.0, 0.0, -0.78]), [2.0, 2.0, 0.01],
                               material=render_material([0.35, 0.33, 0.32, 1.0]))
    builder.build_static(name="table")


def add_lights(scene: Any, params: Mapping[str, Any]) -> None:
    """Ambient + a key and a fill light; light-axis parameters move, scale and tint them."""
    tint = np.asarray(params.get("tint", (0.0, 0.0, 0.0)), dtype=float)
    colour = np.clip(1.0 + tint, 0.0, None) * 2.0 ** float(params.get("intensity_log2", 0.0))
    ambient = max(0.0, AMBIENT + float(params.get("ambient", 0.0)))
    scene.set_ambient_light((ambient * np.clip(1.0 + tint, 0.0, None) ** 0.5).tolist())
    azimuth = math.radians(KEY_LIGHT[0] + float(params.get("azimuth_deg", 0.0)))
    elevation = math.radians(KEY_LIGHT[1] + float(params.get("elevation_deg", 0.0)))
    direction = -np.array([math.cos(elevation) * math.cos(azimuth),
                           math.cos(elevation) * math.sin(azimuth), math.sin(elevation)])
    scene.add_directional_light(direction.tolist(), (KEY_LIGHT[2] * colour).tolist())
    scene.add_directional_light([0.3, -0.5, -0.6], (0.4 * colour).tolist())


def add_head_camera(scene: Any, width: int, height: int, params: Mapping[str, Any]) -> Any:
    import sapien

    camera = scene.add_camera("head", width, height, HEAD_FOVY, 0.01, 10.0)
    camera.entity.set_pose(sapien.Pose(head_camera_pose(params)))
    return camera


def add_wrist_camera(scene: Any, name: str, hand_entity: Any, width: int, height: int) -> Any:
    """A camera on the hand, looking along the fingers (the hand's x axis)."""
    import sapien

    # Slightly behind the palm and off-axis so both finger pads are in view.
    pose = sapien.Pose([0.0, 0.0, 0.045], quat_axis_angle((0.0, 1.0, 0.0), math.radians(-8.0)))
    return scene.add_mounted_camera(name, hand_entity, pose, width, height, WRIST_FOVY, 0.01, 5.0)


def place_distractors(scene: Any, count: int, seed: int, table_z: float,
                      keep_out: Sequence[KeepOut], visuals: bool, material: Any) -> list[Any]:
    """`count` small loose objects on free table spots (rejection sampling, seeded)."""
    import sapien

    rng = np.random.Generator(np.random.PCG64(seed))
    placed: list[KeepOut] = []
    actors = []
    for index in range(count):
        half = float(rng.uniform(0.012, 0.022))
        radius = half * DISTRACTOR_FOOTPRINT
        for _ in range(PLACEMENT_TRIES):
            xy = (float(rng.uniform(-0.45, 0.45)), float(rng.uniform(-0.25, 0.38)))
            if all(math.dist(xy, k.xy) > k.radius + radius for k in (*keep_out, *placed)):
                break
        else:
            continue  # table full: fewer distractors than asked rather than overlaps
        placed.append(KeepOut(xy, radius))
        rgba = [*rng.uniform(0.1, 0.95, size=3).tolist(), 1.0]
        builder = scene.create_actor_builder()
        shape = int(rng.integers(3))
        if shape == 0:
            builder.add_box_collision(half_size=[half] * 3, material=material, density=300)
            if visuals:
                builder.add_box_visual(half_size=[half] * 3, material=render_material(rgba))
        elif shape == 1:
            builder.add_sphere_collision(radius=half, material=material, density=300)
            if visuals:
                builder.add_sphere_visual(radius=half, material=render_material(rgba))
        else:
            upright = sapien.Pose(q=quat_axis_angle((0.0, 1.0, 0.0), math.pi / 2))
            builder.add_cylinder_collision(upright, radius=half, half_length=half * 1.4,
                                           material=material, density=300)
            if visuals:
                builder.add_cylinder_visual(upright, radius=half, half_length=half * 1.4,
                                            material=render_material(rgba))
        height = half * 1.4 if shape == 2 else half
        yaw = float(rng.uniform(-math.pi, math.pi))
        builder.set_initial_pose(sapien.Pose([xy[0], xy[1], table_z + height + 1e-3],
                                             quat_axis_angle((0.0, 0.0, 1.0), yaw)))
        actors.append(builder.build(name=f"distractor_{index}"))
    return actors
