"""The tabletop tasks: what is on the table, where, and when the goal holds.

Like LIBERO's BDDL tasks, a task is a set of objects and fixtures placed with small
per-episode randomisation (the `rng` comes from `EpisodeSpec.episode_seed`) plus a goal
predicate on simulator state. `target` names the prop the layout axis jitters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.sims.tabletop import props as P
from pytest_wamrobust.sims.tabletop.scene import Prop

RED, GREEN, YELLOW, BLUE = (0.85, 0.12, 0.1), (0.15, 0.7, 0.2), (0.95, 0.8, 0.1), (0.15, 0.3, 0.85)


class SimView:
    """What success predicates and the oracle may read: poses of named bodies and joints."""

    def __init__(self, model: Any, data: Any, table_z: float) -> None:
        self.model, self.data, self.table_z = model, data, table_z

    def pos(self, body: str) -> np.ndarray:
        return self.data.body(body).xpos.copy()

    def quat(self, body: str) -> np.ndarray:
        return self.data.body(body).xquat.copy()

    def joint(self, name: str) -> float:
        return float(self.data.joint(name).qpos[0])

    def site(self, name: str) -> np.ndarray:
        return self.data.site(name).xpos.copy()

    def height(self, body: str) -> float:
        """Height of a body's origin above the table top."""
        return float(self.data.body(body).xpos[2] - self.table_z)


@dataclass(frozen=True)
class Task:
    name: str
    layout: Callable[[np.random.Generator], tuple[Prop, ...]]
    success: Callable[[SimView], bool]
    target: str
    #: Oracle plan kind and the bodies it acts on (read by oracle.py through privileged).
    plan: str
    roles: Mapping[str, str] = field(default_factory=dict)
    initial_joints: Mapping[str, float] = field(default_factory=dict)
    #: Half height and grasp width of the manipulated object, the goal's top above its origin (m).
    object_half: float = 0.0
    object_width: float = 0.0
    goal_top: float = 0.0


def _u(rng: np.random.Generator, r: float) -> float:
    return float(rng.uniform(-r, r))


def _xy_dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(a[:2] - b[:2])))


def _lift_layout(rng):
    return (P.cube("red_cube", RED, 0.0 + _u(rng, 0.05), _u(rng, 0.06), _u(rng, 0.6)),)


def _plate_layout(rng):
    return (P.cube("red_cube", RED, _u(rng, 0.03), -0.12 + _u(rng, 0.03), _u(rng, 0.6)),
            P.plate("plate", 0.02 + _u(rng, 0.03), 0.12 + _u(rng, 0.03)))


def _stack_layout(rng):
    return (P.cube("red_cube", RED, _u(rng, 0.03), -0.11 + _u(rng, 0.03), _u(rng, 0.6)),
            P.cube("green_cube", GREEN, 0.02 + _u(rng, 0.03), 0.11 + _u(rng, 0.03), _u(rng, 0.6),
                   half=0.025))


def _bowl_layout(rng):
    return (P.cube("yellow_cube", YELLOW, _u(rng, 0.03), -0.12 + _u(rng, 0.03), _u(rng, 0.6)),
            P.bowl("bowl", 0.02 + _u(rng, 0.03), 0.12 + _u(rng, 0.03)))


def _basket_layout(rng):
    return (P.can("blue_can", BLUE, _u(rng, 0.03), -0.13 + _u(rng, 0.03)),
            P.basket("basket", 0.03 + _u(rng, 0.02), 0.13 + _u(rng, 0.02)))


def _cabinet_layout(rng):
    return (P.cabinet("cabinet", 0.2 + _u(rng, 0.02), _u(rng, 0.04)),)


def _push_layout(rng):
    return (P.cube("red_cube", RED, -0.04 + _u(rng, 0.03), -0.12 + _u(rng, 0.03), _u(rng, 0.3)),
            P.region("goal_region", 0.02 + _u(rng, 0.03), 0.1 + _u(rng, 0.03)))


#: Drawer travel (m) past which open_drawer holds, and below which close_drawer does.
DRAWER_OPEN_M, DRAWER_CLOSED_M = 0.1, 0.015


def _resting_on(v: SimView, obj: str, half: float, base: str, top: float, radius: float) -> bool:
    """`obj` (a cube of half size `half`) rests on `base`, whose top is `top` above its origin."""
    rest = v.pos(base)[2] + top + half
    return _xy_dist(v.pos(obj), v.pos(base)) < radius and abs(v.pos(obj)[2] - rest) < 0.01


def _inside_box(v: SimView, obj: str, box: str, half: float, height: float) -> bool:
    d = v.pos(obj) - v.pos(box)
    return bool(abs(d[0]) < half and abs(d[1]) < half and d[2] < height)


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("lift_cube", _lift_layout, lambda v: v.height("red_cube") > P.CUBE_HALF + 0.08,
         target="red_cube", plan="lift", roles={"object": "red_cube"},
         object_half=P.CUBE_HALF, object_width=2 * P.CUBE_HALF),
    Task("cube_on_plate", _plate_layout,
         lambda v: _resting_on(v, "red_cube", P.CUBE_HALF, "plate", 2 * P.PLATE_HALF_THICK, 0.06),
         target="plate", plan="place", roles={"object": "red_cube", "goal": "plate"},
         object_half=P.CUBE_HALF, object_width=2 * P.CUBE_HALF, goal_top=2 * P.PLATE_HALF_THICK),
    Task("stack_cubes", _stack_layout,
         lambda v: _resting_on(v, "red_cube", P.CUBE_HALF, "green_cube", 0.025, 0.02),
         target="green_cube", plan="place", roles={"object": "red_cube", "goal": "green_cube"},
         object_half=P.CUBE_HALF, object_width=2 * P.CUBE_HALF, goal_top=0.025),
    Task("cube_in_bowl", _bowl_layout,
         lambda v: _xy_dist(v.pos("yellow_cube"), v.pos("bowl")) < P.BOWL_RADIUS - 0.015
         and v.height("yellow_cube") < P.BOWL_HEIGHT,
         target="bowl", plan="place", roles={"object": "yellow_cube", "goal": "bowl"},
         object_half=P.CUBE_HALF, object_width=2 * P.CUBE_HALF, goal_top=P.BOWL_HEIGHT),
    Task("can_in_basket", _basket_layout,
         lambda v: _inside_box(v, "blue_can", "basket", P.BASKET_HALF - 0.01,
                               P.CAN_HALF_HEIGHT + 0.02),
         target="basket", plan="place", roles={"object": "blue_can", "goal": "basket"},
         object_half=P.CAN_HALF_HEIGHT, object_width=2 * P.CAN_RADIUS, goal_top=P.BASKET_HEIGHT),
    Task("open_drawer", _cabinet_layout, lambda v: v.joint(P.DRAWER_JOINT) > DRAWER_OPEN_M,
         target="cabinet", plan="open_drawer", roles={"goal": "cabinet"}),
    Task("close_drawer", _cabinet_layout,
         lambda v: v.joint(P.DRAWER_JOINT) < DRAWER_CLOSED_M,
         target="cabinet", plan="close_drawer", roles={"goal": "cabinet"},
         initial_joints={P.DRAWER_JOINT: 0.14}),
    Task("push_to_region", _push_layout,
         lambda v: _inside_box(v, "red_cube", "goal_region", P.REGION_HALF, P.CUBE_HALF + 0.01),
         target="goal_region", plan="push", roles={"object": "red_cube", "goal": "goal_region"},
         object_half=P.CUBE_HALF, object_width=2 * P.CUBE_HALF),
)}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UsageError(
            f"the tabletop simulator has no task {name!r}; it implements {', '.join(TASKS)}"
        ) from None


#: Distance (m) from the goal at which a place or push task counts as not begun.
PROGRESS_SPAN_M = 0.3
#: Height above rest at which lift_cube holds (its success predicate's margin).
LIFT_HEIGHT_M = 0.08


def progress(task: Task, v: SimView) -> float:
    """How far the task is toward its goal, in [0, 1] (1 when it holds): lifted height,
    the object's distance to its goal, or the drawer's travel. The search steers toward
    failure with it (a slow solve is close to one that fails)."""
    if task.success(v):
        return 1.0
    if task.plan == "lift":
        done = (v.height(task.roles["object"]) - task.object_half) / LIFT_HEIGHT_M
    elif task.plan in ("place", "push"):
        gap = _xy_dist(v.pos(task.roles["object"]), v.pos(task.roles["goal"]))
        done = 1.0 - gap / PROGRESS_SPAN_M
    elif task.plan == "open_drawer":
        done = v.joint(P.DRAWER_JOINT) / DRAWER_OPEN_M
    else:  # close_drawer: from its initial opening to the travel of success
        start = task.initial_joints[P.DRAWER_JOINT]
        done = (start - v.joint(P.DRAWER_JOINT)) / (start - DRAWER_CLOSED_M)
    return float(min(0.99, max(0.0, done)))
