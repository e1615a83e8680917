"""The privileged LIBERO-Plus oracle: pick-and-place plans over `Observation.privileged`.

It reads the world state the env exposes (`world.py`: gripper pose and fingers, object
and fixture poses and collision extents, BDDL region sites, the support height and the
task's goal predicates from the variant's BDDL file) and nothing else: not the images,
not the instruction, not the case's perturbation parameters. So it is blind to the
visual axes (camera, light, background, noise) by construction, and it replans from the
current state on the physical ones (robot_init, layout).

Each `On`/`In` goal predicate becomes one pick-and-place: approach above a grasp point
(a top-down grasp across the object's narrow side; a rim grasp for bowls too wide for
the fingers), descend, close, lift above whatever lies on the way, carry the object's
centre over the target (an object's centre, or a BDDL region site), lower it until its
bottom is just above the support, open, retreat. A grasp that did not hold is retried.
Predicates it has no primitive for (`Open`, `Close`, `Turnon`, ...) make it hold still.

Actions are LIBERO's OSC_POSE deltas in [-1, 1] (xyz, world-frame axis-angle) and the
gripper (-1 open, +1 close), under the standard protocol like any other policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import POLICY_ERROR, EpisodeError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import Observation, PolicyMetadata
from pytest_wamrobust.sims.grip_pose import pointing_down, rotation_error
from pytest_wamrobust.sims.oracle_chunking import chunking

OPEN, CLOSE = -1.0, 1.0
#: Steady-state eef displacement per control step for a unit action (measured: the
#: OSC_POSE controller moves ~1.3 cm / step at action 1.0, ~0.27 rad / step at 1.0).
POS_STEP_M = 0.0133
ROT_STEP_RAD = 0.13
#: Steps over which a position error is closed (a P-controller's time constant).
TAU = 2.5
MAX_SPEED = 1.0
CARRY_SPEED = 0.7
#: Widest object the fingers close across (Panda: 8 cm fully open, keep a margin).
MAX_GRASP_WIDTH = 0.068
#: Grip site above the fingertips, and how deep the fingers reach over an object's top.
FINGERTIP_BELOW_SITE = 0.011
GRASP_DEPTH = 0.035
RIM_DEPTH = 0.022
#: A rim grasp closes this far inside the rim; the outer finger needs this much room
#: outside it (m): the side with the most room is chosen.
RIM_INSET = 0.012
FINGER_OUTSIDE = 0.03
HOVER = 0.07
CLEARANCE = 0.04
#: Steps the gripper needs to close / open (robosuite's Panda gripper: ~10).
GRIP_STEPS = 10
MAX_TRIES = 3

SUPPORTED = ("on", "in")


def _yaw_of(xmat: np.ndarray) -> float:
    """Yaw of the fingers' closing axis (the grip site's x axis) in the world."""
    return math.atan2(xmat[1, 0], xmat[0, 0])


def _nearest_yaw(yaw: float, current: float) -> float:
    """`yaw` or `yaw + pi` (the gripper is symmetric), whichever is nearer `current`."""
    return current + (yaw - current + math.pi / 2) % math.pi - math.pi / 2


def _quat_mat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _box_segment_distance(box: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Distance in xy between an axis-aligned box footprint and the segment a-b (sampled)."""
    lo, hi = box[0][:2], box[1][:2]
    best = math.inf
    for t in np.linspace(0.0, 1.0, 21):
        p = a + t * (b - a)
        best = min(best, float(np.linalg.norm(np.maximum(np.maximum(lo - p, 0.0), p - hi))))
    return best


@dataclass(frozen=True)
class Grasp:
    point: np.ndarray  # grip-site position at the grasp
    yaw: float  # closing axis


@dataclass
class _Task:
    """One goal predicate as a pick-and-place: `obj` onto / into `target`."""

    predicate: str
    obj: str
    target: str
    phase: str = "approach"
    steps_in_phase: int = 0
    tries: int = 0
    grasp: Grasp | None = None
    carry_z: float = 0.0
    #: object centre - eef when the fingers had closed: the object follows the hand
    #: while this holds.
    offset: np.ndarray | None = None

    def chosen_grasp(self) -> Grasp:
        """The grasp `approach` chose: every later phase (descend .. lift) follows it."""
        assert self.grasp is not None, f"phase {self.phase!r} before a grasp was chosen"
        return self.grasp


class World:
    """Read-only helpers over one privileged observation."""

    def __init__(self, p: Mapping[str, Any]) -> None:
        self.p = p
        self.eef = np.asarray(p["eef_pos"], dtype=float)
        self.xmat = np.asarray(p["eef_xmat"], dtype=float)
        fingers = np.asarray(p["gripper_qpos"], dtype=float)
        self.opening = float(fingers[0] - fingers[1])
        self.table_z = float(p["table_z"])
        self.objects = p["objects"]
        self.sites = p["sites"]

    def aabb(self, name: str) -> np.ndarray:
        return np.asarray(self.objects[name]["aabb"], dtype=float)

    def pos(self, name: str) -> np.ndarray:
        if name in self.objects:
            return np.asarray(self.objects[name]["pos"], dtype=float)
        return np.asarray(self.sites[name]["pos"], dtype=float)

    def grasp(self, name: str) -> Grasp:
        """Top-down grasp across the narrow horizontal side of the object's body frame;
        a rim grasp (one finger inside, one outside) when both sides are too wide."""
        obj = self.objects[name]
        rot = _quat_mat(np.asarray(obj["quat"], dtype=float))
        lo, hi = np.asarray(obj["local_aabb"], dtype=float)
        box = self.aabb(name)
        top, bottom = float(box[1][2]), float(box[0][2])
        centre = np.asarray(obj["pos"], dtype=float) + rot @ ((lo + hi) / 2)
        widths = hi - lo
        x_axis = rot[:, 0]
        yaw_x = math.atan2(x_axis[1], x_axis[0])
        narrow = min(widths[0], widths[1])
        if narrow <= MAX_GRASP_WIDTH:
            yaw = yaw_x if widths[0] <= widths[1] else yaw_x + math.pi / 2
            z = max(top - min(GRASP_DEPTH, 0.6 * (top - bottom)),
                    bottom + FINGERTIP_BELOW_SITE + 0.004)
            return Grasp(np.array([centre[0], centre[1], z]), yaw)
        radius = narrow / 2
        direction = self._free_direction(name, centre, radius)
        point = centre[:2] + direction * (radius - RIM_INSET)
        return Grasp(np.array([point[0], point[1], top - RIM_DEPTH]),
                     math.atan2(direction[1], direction[0]))

    def _free_direction(self, name: str, centre: np.ndarray, radius: float) -> np.ndarray:
        """The rim side to grasp: the one whose outer finger is farthest from other
        things, with a preference for the side facing the robot (-x)."""
        best, best_score = np.array([-1.0, 0.0]), -math.inf
        for k in range(16):
            angle = math.pi + k * 2 * math.pi / 16
            u = np.array([math.cos(angle), math.sin(angle)])
            finger = centre[:2] + u * (radius + FINGER_OUTSIDE)
            clearance = min(
                (self._footprint_distance(other, finger) for other in self.objects
                 if other != name and self.aabb(other)[1][2] > self.table_z + 0.005),
                default=1.0,
            )
            score = min(clearance, 0.06) - 0.01 * (1 - math.cos(angle - math.pi))
            if score > best_score:
                best, best_score = u, score
        return best

    def _footprint_distance(self, name: str, xy: np.ndarray) -> float:
        box = self.aabb(name)
        return float(np.linalg.norm(np.maximum(np.maximum(box[0][:2] - xy, 0.0), xy - box[1][:2])))

    def obstacles_top(self, a: np.ndarray, b: np.ndarray, width: float,
                      skip: tuple[str, ...]) -> float:
        """Highest top of anything whose footprint comes within `width` of segment a-b."""
        top = self.table_z
        for name in self.objects:
            if name in skip:
                continue
            box = self.aabb(name)
            if _box_segment_distance(box, a[:2], b[:2]) < width:
                top = max(top, float(box[1][2]))
        return top

    def support_top(self, xy: np.ndarray, skip: tuple[str, ...]) -> float:
        """Top of whatever lies under `xy` (the table if nothing does)."""
        top = self.table_z
        for name in self.objects:
            if name in skip:
                continue
            box = self.aabb(name)
            if np.all(box[0][:2] <= xy) and np.all(xy <= box[1][:2]):
                top = max(top, float(box[1][2]))
        return top


class LiberoPlusOracle:
    """A phase machine per goal predicate; each `infer` plans a chunk toward the current
    phase's waypoint (P-control on position and orientation, capped speed)."""

    def __init__(self, chunk_length: int = 10, replan_steps: int = 5) -> None:
        self.metadata = PolicyMetadata("scripted", chunk_length, replan_steps,
                                       family="oracle", privileged=True)
        self._tasks: list[_Task] | None = None

    def reset(self, task: str, seed: int) -> None:
        self._tasks = None

    # --- planning ---------------------------------------------------------------------

    def _plan_tasks(self, goal: list[list[str]]) -> list[_Task]:
        """A task per goal predicate it has a primitive for (it holds still for the rest)."""
        return [_Task(name, obj, target) for name, *args in goal
                if name in SUPPORTED and len(args) == 2 for obj, target in [args]]

    def infer(self, observation: Observation) -> np.ndarray:
        p = observation.privileged
        if "goal" not in p or "objects" not in p:
            raise EpisodeError(POLICY_ERROR, "the libero_plus oracle needs the env's "
                               "privileged world state (goal, objects); this env did not "
                               "provide it")
        if self._tasks is None:
            self._tasks = self._plan_tasks(p["goal"])
        w = World(p)
        target, yaw, gripper, speed = self._waypoint(w)
        return self._chunk(w, target, yaw, gripper, speed)

    def _waypoint(self, w: World) -> tuple[np.ndarray, float | None, float, float]:
        """(eef target, closing-axis yaw or None to keep it, gripper, speed cap)."""
        steps = self.metadata.replan_steps
        while self._tasks and self._tasks[0].phase == "done":
            self._tasks.pop(0)
        if not self._tasks:
            return w.eef.copy(), None, OPEN, MAX_SPEED
        t = self._tasks[0]
        t.steps_in_phase += steps
        return getattr(self, f"_phase_{t.phase}")(w, t)

    def _enter(self, t: _Task, phase: str) -> None:
        t.phase, t.steps_in_phase = phase, 0

    def _travel(self, w: World, goal: np.ndarray, low: float) -> np.ndarray:
        """Next waypoint toward `goal`: rise to `low` first when far in xy and below it."""
        e = w.eef
        far = float(np.hypot(*(goal[:2] - e[:2]))) > 0.02
        if far and e[2] < low - 0.015:
            return np.array([e[0], e[1], low])
        if far:
            return np.array([goal[0], goal[1], max(low, goal[2])])
        return goal

    def _phase_approach(self, w: World, t: _Task):
        t.grasp = w.grasp(t.obj)
        g = t.grasp
        hover = g.point + [0.0, 0.0, HOVER]
        low = max(hover[2], w.obstacles_top(w.eef, g.point, 0.06, (t.obj,)) + CLEARANCE + 0.05)
        yaw = _nearest_yaw(g.yaw, _yaw_of(w.xmat))
        close_xy = float(np.hypot(*(w.eef[:2] - g.point[:2]))) < 0.01
        aligned = abs(_yaw_of(w.xmat) - yaw) < 0.08 and w.xmat[2, 2] < -0.99
        if close_xy and aligned and w.eef[2] < hover[2] + 0.03:
            self._enter(t, "descend")
            return self._phase_descend(w, t)
        return self._travel(w, hover, low), yaw, OPEN, MAX_SPEED

    def _phase_descend(self, w: World, t: _Task):
        g = t.chosen_grasp()
        yaw = _nearest_yaw(g.yaw, _yaw_of(w.xmat))
        err = g.point - w.eef
        stalled = t.steps_in_phase > 40
        if (abs(err[2]) < 0.006 and np.hypot(*err[:2]) < 0.008) or stalled:
            self._enter(t, "close")
            return w.eef.copy(), yaw, CLOSE, MAX_SPEED
        if np.hypot(*err[:2]) > 0.03:  # the object moved: start over
            self._enter(t, "approach")
        return g.point, yaw, OPEN, 0.6

    def _phase_close(self, w: World, t: _Task):
        g = t.chosen_grasp()
        yaw = _nearest_yaw(g.yaw, _yaw_of(w.xmat))
        if t.steps_in_phase >= GRIP_STEPS + self.metadata.replan_steps:
            self._enter(t, "lift")
            t.offset = w.pos(t.obj) - w.eef
            return self._phase_lift(w, t)
        return g.point, yaw, CLOSE, 0.3

    def _holding(self, w: World, t: _Task) -> bool:
        """The object still follows the hand (it did not slip or stay behind)."""
        drift = float(np.linalg.norm(w.pos(t.obj) - w.eef - t.offset))
        return w.opening > 0.0015 and drift < 0.025

    def _place_xy(self, w: World, t: _Task) -> np.ndarray:
        if t.target in w.sites:
            return np.asarray(w.sites[t.target]["pos"], dtype=float)[:2]
        return w.pos(t.target)[:2]

    def _release_bottom(self, w: World, t: _Task, xy: np.ndarray) -> float:
        """Height the held object's bottom is let go at."""
        if t.target in w.sites:
            site = w.sites[t.target]
            parent = site.get("parent", "")
            if t.predicate == "in":
                size = np.abs(np.asarray(site["xmat"]) @ np.asarray(site["size"], dtype=float))
                floor = float(site["pos"][2] - size[2])
                below = w.support_top(xy, (t.obj, parent))
                return max(floor, below) + 0.02
            return w.support_top(xy, (t.obj,)) + 0.01
        return float(w.aabb(t.target)[1][2]) + 0.01

    def _phase_lift(self, w: World, t: _Task):
        if not self._holding(w, t):
            return self._retry(w, t)
        box = w.aabb(t.obj)
        hang = w.eef[2] - float(box[0][2])
        xy = self._place_xy(w, t)
        half = 0.5 * float(np.max(box[1][:2] - box[0][:2]))
        over = w.obstacles_top(w.pos(t.obj), np.array([xy[0], xy[1], 0.0]), half + 0.01,
                               (t.obj,))
        release = self._release_bottom(w, t, xy)
        t.carry_z = max(over, release) + CLEARANCE + hang
        t.carry_z = min(t.carry_z, w.table_z + 0.5)
        if w.eef[2] > t.carry_z - 0.02:
            self._enter(t, "carry")
            return self._phase_carry(w, t)
        point = t.chosen_grasp().point
        target = np.array([point[0], point[1], t.carry_z])
        return target, None, CLOSE, CARRY_SPEED

    def _phase_carry(self, w: World, t: _Task):
        if not self._holding(w, t):
            return self._retry(w, t)
        xy = self._place_xy(w, t)
        offset = w.eef[:2] - w.pos(t.obj)[:2]
        hand = xy + offset
        if float(np.hypot(*(xy - w.pos(t.obj)[:2]))) < 0.008:
            self._enter(t, "lower")
            return self._phase_lower(w, t)
        return np.array([hand[0], hand[1], t.carry_z]), None, CLOSE, CARRY_SPEED

    def _phase_lower(self, w: World, t: _Task):
        if not self._holding(w, t):
            return self._retry(w, t)
        xy = self._place_xy(w, t)
        offset = w.eef[:2] - w.pos(t.obj)[:2]
        hand = xy + offset
        bottom = float(w.aabb(t.obj)[0][2])
        release = self._release_bottom(w, t, xy)
        z = w.eef[2] - (bottom - release)
        if bottom - release < 0.006 or t.steps_in_phase > 60:
            self._enter(t, "release")
            return w.eef.copy(), None, OPEN, 0.3
        return np.array([hand[0], hand[1], z]), None, CLOSE, 0.5

    def _phase_release(self, w: World, t: _Task):
        if t.steps_in_phase >= GRIP_STEPS:
            self._enter(t, "retreat")
            return self._phase_retreat(w, t)
        return w.eef.copy(), None, OPEN, 0.3

    def _phase_retreat(self, w: World, t: _Task):
        up = np.array([w.eef[0], w.eef[1], max(w.eef[2], t.carry_z)])
        if w.eef[2] > t.carry_z - 0.03 or t.steps_in_phase > 30:
            self._enter(t, "done")
        return up + [0.0, 0.0, 0.02], None, OPEN, 0.6

    def _retry(self, w: World, t: _Task):
        t.tries += 1
        self._enter(t, "approach" if t.tries < MAX_TRIES else "done")
        up = w.eef + [0.0, 0.0, 0.05]
        return up, None, OPEN, 0.5

    # --- actions ----------------------------------------------------------------------

    def _chunk(self, w: World, target: np.ndarray, yaw: float | None, gripper: float,
               speed: float) -> np.ndarray:
        e = w.eef.copy()
        current = w.xmat
        desired = pointing_down(_yaw_of(current) if yaw is None else yaw)
        rot = rotation_error(current, desired)
        chunk = np.zeros((self.metadata.chunk_length, 7))
        for k in range(self.metadata.chunk_length):
            move = np.clip((target - e) / (POS_STEP_M * TAU), -speed, speed)
            turn = np.clip(rot / (ROT_STEP_RAD * TAU), -1.0, 1.0)
            chunk[k, :3], chunk[k, 3:6], chunk[k, 6] = move, turn, gripper
            e = e + move * POS_STEP_M
            rot = rot - turn * ROT_STEP_RAD
        return chunk


def make_oracle(ctx: PolicyContext) -> LiberoPlusOracle:
    """The `libero_plus` entry of `pytest_wamrobust.oracles`; `--policy-arg
    chunk_length=N` and `replan_steps=M` imitate another model's chunking."""
    return LiberoPlusOracle(*chunking(ctx, chunk_length=10, replan_steps=5))
