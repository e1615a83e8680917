"""The objects and fixtures tasks are made of, from primitive geoms.

Each factory returns a `Prop` whose body origin is its centre for objects and its base
for fixtures; sizes here are the ones the success predicates and the oracle rely on.
"""

from __future__ import annotations

import math

from pytest_wamrobust.sims.tabletop.scene import Prop

CUBE_HALF = 0.02
CAN_RADIUS, CAN_HALF_HEIGHT = 0.022, 0.04
PLATE_RADIUS, PLATE_HALF_THICK = 0.075, 0.005
BOWL_RADIUS, BOWL_HEIGHT = 0.07, 0.045
BASKET_HALF, BASKET_HEIGHT = 0.08, 0.06
REGION_HALF = 0.06
DRAWER_TRAVEL = 0.16
#: The drawer's keep-out radius: its frame and the opened drawer, so distractors never
#: block it.
DRAWER_FOOTPRINT_M = 0.28
#: Drawer joint and the site between the handle bar and the drawer front (the hook point).
DRAWER_JOINT, HANDLE_SITE = "drawer_slide", "drawer_handle"


def _rgba(rgb: tuple[float, float, float]) -> str:
    return f"{rgb[0]} {rgb[1]} {rgb[2]} 1"


def _box(half: tuple, pos: tuple, rgba: str, mass: float | None = None) -> str:
    """A fixture box geom (half sizes, position in the body frame)."""
    size = " ".join(str(v) for v in half)
    where = " ".join(str(v) for v in pos)
    weight = f' mass="{mass}"' if mass is not None else ""
    return f'<geom type="box" size="{size}" pos="{where}" rgba="{rgba}" class="fixture"{weight}/>'


def cube(name: str, rgb: tuple[float, float, float], x: float, y: float, yaw: float,
         half: float = CUBE_HALF) -> Prop:
    geom = (f'<geom type="box" size="{half} {half} {half}" rgba="{_rgba(rgb)}" '
            f'class="object" mass="0.05"/>')
    return Prop(name, x, y, geom, radius=half * 1.5, yaw=yaw, z=half)


def can(name: str, rgb: tuple[float, float, float], x: float, y: float) -> Prop:
    geom = (f'<geom type="cylinder" size="{CAN_RADIUS} {CAN_HALF_HEIGHT}" rgba="{_rgba(rgb)}" '
            f'class="object" mass="0.06"/>')
    return Prop(name, x, y, geom, radius=CAN_RADIUS * 1.3, z=CAN_HALF_HEIGHT)


def plate(name: str, x: float, y: float) -> Prop:
    geom = (f'<geom type="cylinder" size="{PLATE_RADIUS} {PLATE_HALF_THICK}" '
            f'pos="0 0 {PLATE_HALF_THICK}" rgba="0.95 0.95 0.92 1" class="fixture"/>')
    return Prop(name, x, y, geom, radius=PLATE_RADIUS, free=False)


def _ring(radius: float, height: float, count: int, thick: float, rgba: str) -> str:
    walls = []
    width = radius * math.tan(math.pi / count) * 1.05
    for k in range(count):
        a = 2 * math.pi * k / count
        walls.append(
            f'<geom type="box" size="{thick} {width} {height / 2}" '
            f'pos="{radius * math.cos(a)} {radius * math.sin(a)} {height / 2}" '
            f'euler="0 0 {a}" rgba="{rgba}" class="fixture"/>')
    return "".join(walls)


def bowl(name: str, x: float, y: float) -> Prop:
    rgba = "0.85 0.55 0.25 1"
    geoms = (f'<geom type="cylinder" size="{BOWL_RADIUS} 0.004" pos="0 0 0.004" rgba="{rgba}" '
             f'class="fixture"/>' + _ring(BOWL_RADIUS, BOWL_HEIGHT, 12, 0.004, rgba))
    return Prop(name, x, y, geoms, radius=BOWL_RADIUS + 0.01, free=False)


def basket(name: str, x: float, y: float) -> Prop:
    h, b = BASKET_HEIGHT, BASKET_HALF
    rgba = "0.55 0.4 0.25 1"
    geoms = _box((b, b, 0.004), (0, 0, 0.004), rgba)
    walls = ((b, 0, 0.005, b), (-b, 0, 0.005, b), (0, b, b, 0.005), (0, -b, b, 0.005))
    for sx, sy, ex, ey in walls:
        geoms += _box((ex, ey, h / 2), (sx, sy, h / 2), rgba)
    return Prop(name, x, y, geoms, radius=b * 1.42, free=False)


def region(name: str, x: float, y: float) -> Prop:
    geom = (f'<geom type="box" size="{REGION_HALF} {REGION_HALF} 0.0005" pos="0 0 0.0005" '
            f'rgba="0.2 0.75 0.3 1" class="visual"/>')
    return Prop(name, x, y, geom, radius=REGION_HALF, free=False)


def cabinet(name: str, x: float, y: float) -> Prop:
    """A low cabinet whose drawer slides toward the robot (-x) on a real slide joint.

    The handle is a bar 4 cm in front of the drawer, so a gripper can hook it from above.
    """
    wood, dark = "0.45 0.3 0.2 1", "0.2 0.2 0.22 1"
    hx, hy, top = 0.09, 0.12, 0.065
    frame = (_box((hx, hy, 0.005), (0, 0, top - 0.005), wood)
             + _box((hx, 0.005, top / 2), (0, hy, top / 2), wood)
             + _box((hx, 0.005, top / 2), (0, -hy, top / 2), wood)
             + _box((0.005, hy, top / 2), (hx, 0, top / 2), wood))
    dx, dy, dh = hx - 0.01, hy - 0.012, 0.025
    drawer = (
        f'<body name="{name}_drawer" pos="0 0 0.004">'
        f'<joint name="{DRAWER_JOINT}" type="slide" axis="-1 0 0" range="0 {DRAWER_TRAVEL}" '
        f'damping="4" frictionloss="0.3" armature="0.05"/>'
        + _box((dx, dy, 0.004), (0, 0, 0.004), wood, 0.3)
        + _box((dx, 0.004, dh), (0, dy, dh), wood, 0.05)
        + _box((dx, 0.004, dh), (0, -dy, dh), wood, 0.05)
        + _box((0.004, dy, dh), (dx, 0, dh), wood, 0.05)
        + _box((0.006, hy, 0.028), (-hx - 0.006, 0, 0.028), wood, 0.1)  # front
        + _box((0.006, 0.06, 0.01), (-hx - 0.05, 0, 0.04), dark, 0.02)  # handle bar
        + _box((0.022, 0.006, 0.01), (-hx - 0.028, 0.054, 0.04), dark, 0.01)  # its posts
        + _box((0.022, 0.006, 0.01), (-hx - 0.028, -0.054, 0.04), dark, 0.01)
        + f'<site name="{HANDLE_SITE}" pos="{-hx - 0.029} 0 0.035" size="0.005" rgba="0 0 0 0" '
        f'group="4"/></body>'
    )
    return Prop(name, x, y, frame + drawer, radius=DRAWER_FOOTPRINT_M, free=False)
