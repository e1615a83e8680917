"""The scene-side axes as pure edits: (SceneSpec, params) -> SceneSpec, and robot_init.

dm_control's MJCF variators, as data: nothing here touches MuJoCo, so each edit can be
tested on its own and identity parameters return an equal SceneSpec (hence the same
model and bit-equal images).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from pytest_wamrobust.core.cases.seeding import rng_for
from pytest_wamrobust.core.model.errors import ENV_ERROR, EpisodeError
from pytest_wamrobust.sims.tabletop import robot
from pytest_wamrobust.sims.tabletop.props import can, cube
from pytest_wamrobust.sims.tabletop.scene import TABLE_HALF, CameraPose, Light, Prop, SceneSpec
from pytest_wamrobust.sims.tabletop.textures import Surface


def apply_camera(scene: SceneSpec, p: Mapping[str, Any]) -> SceneSpec:
    """Orbit about the table centre, then rotate in place; the wrist camera is untouched."""
    c = scene.camera
    return replace(scene, camera=CameraPose(
        azimuth_deg=c.azimuth_deg + p["orbit_deg"],
        elevation_deg=c.elevation_deg + p["elevation_deg"],
        distance=c.distance * p["distance_scale"],
        yaw_deg=c.yaw_deg + p["yaw_deg"],
        pitch_deg=c.pitch_deg + p["pitch_deg"],
        roll_deg=c.roll_deg + p["roll_deg"],
        fovy=c.fovy,
    ))


def apply_light(scene: SceneSpec, p: Mapping[str, Any]) -> SceneSpec:
    """Key-light intensity (log2 scale), direction, per-channel tint and ambient level."""
    light = scene.light
    gain = 2.0 ** p["intensity_log2"]
    diffuse = tuple(max(0.0, d * gain * (1.0 + t))
                    for d, t in zip(light.diffuse, p["tint"], strict=True))
    ambient = tuple(max(0.0, a + p["ambient"]) for a in light.ambient)
    return replace(scene, light=Light(
        azimuth_deg=light.azimuth_deg + p["azimuth_deg"],
        elevation_deg=min(89.0, max(5.0, light.elevation_deg + p["elevation_deg"])),
        diffuse=diffuse, ambient=ambient,
    ))


def _surface(surface: Surface, p: Mapping[str, Any]) -> Surface:
    r, g, b = (float(v) for v in p["direction"])
    return replace(surface, pattern=p["pattern"], shift=float(p["shift"]), direction=(r, g, b),
                   texture_seed=int(p["texture_seed"]))


def apply_background(scene: SceneSpec, p: Mapping[str, Any]) -> SceneSpec:
    """Table and wall texture and colour; table height (objects ride along)."""
    return replace(scene, table=_surface(scene.table, p["table"]),
                   wall=_surface(scene.wall, p["wall"]),
                   table_z=scene.table_z + float(p["table_height_m"]))


#: Free table between a distractor and anything else (m), and the spots tried for each
#: distractor before the episode is an env_error.
DISTRACTOR_GAP_M = 0.02
PLACEMENT_TRIES = 200
_DISTRACTOR_COLOURS = ((0.6, 0.3, 0.7), (0.9, 0.5, 0.1), (0.2, 0.7, 0.7), (0.5, 0.5, 0.5),
                       (0.9, 0.9, 0.3), (0.3, 0.2, 0.1))


def _distractor(k: int, rng: np.random.Generator, x: float, y: float) -> Prop:
    colour = _DISTRACTOR_COLOURS[int(rng.integers(len(_DISTRACTOR_COLOURS)))]
    name = f"distractor_{k}"
    if rng.random() < 0.5:
        yaw, half = float(rng.uniform(-1, 1)), float(rng.uniform(0.015, 0.025))
        return cube(name, colour, x, y, yaw, half=half)
    return can(name, colour, x, y)


def apply_layout(scene: SceneSpec, p: Mapping[str, Any], target: str) -> SceneSpec:
    """Move the target prop (jitter, yaw) and add distractors clear of every prop."""
    jitter = p["target"]
    props = []
    for prop in scene.props:
        if prop.name == target:
            a = jitter["jitter_angle_rad"]
            prop = replace(prop, x=prop.x + jitter["jitter_m"] * math.cos(a),
                           y=prop.y + jitter["jitter_m"] * math.sin(a),
                           yaw=prop.yaw + math.radians(jitter["yaw_deg"]))
        props.append(prop)
    rng = rng_for(int(p["distractor_seed"]))
    for k in range(int(p["n_distractors"])):
        for _ in range(PLACEMENT_TRIES):
            x = float(rng.uniform(-0.25, TABLE_HALF[0] - 0.08))
            y = float(rng.uniform(-TABLE_HALF[1] + 0.1, TABLE_HALF[1] - 0.1))
            candidate = _distractor(k, rng, x, y)
            clear = candidate.radius + DISTRACTOR_GAP_M
            if all(math.hypot(x - q.x, y - q.y) > clear + q.radius for q in props):
                props.append(candidate)
                break
        else:
            raise EpisodeError(ENV_ERROR, f"no free table space for distractor {k + 1} of "
                                          f"{p['n_distractors']} (seed {p['distractor_seed']})")
    return replace(scene, props=tuple(props))


SCENE_EDITS: dict[str, Callable[..., SceneSpec]] = {
    "camera": apply_camera,
    "light": apply_light,
    "background": apply_background,
}


def edit_scene(scene: SceneSpec, axis: str, params: Mapping[str, Any], target: str) -> SceneSpec:
    """The scene of one case; axes that do not change the scene return it as is."""
    if axis == "layout":
        return apply_layout(scene, params, target)
    if axis in SCENE_EDITS:
        return SCENE_EDITS[axis](scene, params)
    return scene


def initial_arm(params: Mapping[str, Any] | None) -> tuple[np.ndarray, str]:
    """The robot_init axis: rest pose + joint offsets (within limits), and the gripper rule."""
    if not params:
        return robot.HOME_QPOS.copy(), "keep"
    offsets = np.asarray(params["joint_offsets"], dtype=float)
    q = np.clip(robot.HOME_QPOS + offsets, robot.JOINT_LIMITS[:, 0], robot.JOINT_LIMITS[:, 1])
    return q, str(params.get("gripper", "keep"))
