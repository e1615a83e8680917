"""The scripted bimanual oracle: per-task stage scripts over `Observation.privileged`.

A script is a list of stages; a stage reads the current world state once, when it
starts, and gives each arm a waypoint (grasp-centre position, gripper yaw, opening).
The next stage starts when both arms are at their waypoints and have held them for
the stage's settle time, so grasps, handovers and releases follow what the physics
actually did (where the bar ended up in the hand), not a fixed timeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import POLICY_ERROR, EpisodeError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import Observation, PolicyMetadata
from pytest_wamrobust.sims.oracle_chunking import chunking
from pytest_wamrobust.sims.robotwin.arm import FINGER_LEN
from pytest_wamrobust.sims.robotwin.env import MAX_STEP_M, MAX_STEP_YAW, SIDES
from pytest_wamrobust.sims.robotwin.robot import HOME
from pytest_wamrobust.sims.robotwin.tasks import BUTTON_TRAVEL, POT_BODY, POT_HANDLE, POT_HANDLE_X

World = Mapping[str, Any]
#: Lowest grasp centre above the table: fingertips just clear of it.
GRASP_CLEARANCE = FINGER_LEN / 2 + 0.004
HOVER = 0.10
CARRY_Z = 0.17
REACHED_M = 0.012
REACHED_YAW = 0.08
#: Fraction of the top speed used while holding something (less swing in the grasp).
CARRY_SPEED = 0.5


@dataclass(frozen=True)
class Waypoint:
    pos: np.ndarray
    yaw: float
    open: float


@dataclass(frozen=True)
class Stage:
    """`plan(world)` -> waypoints of the arms that move; `settle` steps held at the end."""

    plan: Callable[[World], dict[str, Waypoint]]
    settle: int = 0


def _axis(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw), math.sin(yaw), 0.0])


def _grasp_z(world: World, name: str) -> float:
    obj = world["objects"][name]
    return max(float(obj["pos"][2]), world["table_z"] + GRASP_CLEARANCE)


def _arm(world: World, side: str) -> Mapping[str, Any]:
    return world["arms"][side]


def _side_of(world: World, name: str) -> str:
    return "left" if world["objects"][name]["pos"][0] < 0 else "right"


def _at(xy: np.ndarray, z: float, yaw: float, opening: float) -> Waypoint:
    return Waypoint(np.array([xy[0], xy[1], z]), yaw, opening)


def _offset(world: World, side: str, dz: float = 0.0, opening: float | None = None) -> Waypoint:
    """The arm's current target moved up by dz (and the gripper set)."""
    arm = _arm(world, side)
    pos = np.asarray(arm["target"], dtype=float) + [0.0, 0.0, dz]
    return Waypoint(pos, float(arm["target_yaw"]), arm["opening"] if opening is None else opening)


def _home(side: str, opening: float = 1.0) -> Waypoint:
    return Waypoint(HOME[side].copy(), 0.0, opening)


def pick(side: str, point: Callable[[World], tuple[np.ndarray, float, float]],
         lift_to: float = CARRY_Z) -> list[Stage]:
    """Hover, descend, close, lift: `point(world)` -> (xy, grasp z, yaw)."""
    def above(w: World) -> dict[str, Waypoint]:
        xy, z, yaw = point(w)
        return {side: _at(xy, z + HOVER, yaw, 1.0)}

    def down(w: World) -> dict[str, Waypoint]:
        xy, z, yaw = point(w)
        return {side: _at(xy, z, yaw, 1.0)}

    return [Stage(above), Stage(down),
            Stage(lambda w: {side: _offset(w, side, opening=0.0)}, settle=10),
            Stage(lambda w: {side: _at(_arm(w, side)["target"], w["table_z"] + lift_to,
                                       _arm(w, side)["target_yaw"], 0.0)})]


def carry_to(side: str, name: str, goal_xy: Callable[[World], np.ndarray],
             rest_z: Callable[[World], float]) -> list[Stage]:
    """Move the held object over `goal_xy`, lower it to `rest_z` (its centre), let go, go up."""
    def hand_for(w: World, xy: np.ndarray, object_z: float) -> Waypoint:
        arm, obj = _arm(w, side), w["objects"][name]
        grip = np.asarray(arm["eef"]) - np.asarray(obj["pos"])
        return _at(np.asarray(xy)[:2] + grip[:2], object_z + grip[2], arm["target_yaw"], 0.0)

    return [
        Stage(lambda w: {side: hand_for(w, goal_xy(w), w["table_z"] + CARRY_Z)}),
        Stage(lambda w: {side: hand_for(w, goal_xy(w), rest_z(w) + 0.006)}),
        Stage(lambda w: {side: _offset(w, side, opening=1.0)}, settle=6),
        Stage(lambda w: {side: _offset(w, side, dz=0.08, opening=1.0)}),
    ]


def _object_point(name: str,
                  along: float = 0.0) -> Callable[[World], tuple[np.ndarray, float, float]]:
    def point(w: World) -> tuple[np.ndarray, float, float]:
        obj = w["objects"][name]
        xy = np.asarray(obj["pos"]) + along * _axis(obj["yaw"])
        return xy, _grasp_z(w, name), float(obj["yaw"])
    return point


def _both(left: list[Stage], right: list[Stage]) -> list[Stage]:
    """Run two single-arm scripts of equal length in lockstep."""
    def merged(a: Stage, b: Stage) -> Stage:
        def plan(w: World) -> dict[str, Waypoint]:
            return {**a.plan(w), **b.plan(w)}
        return Stage(plan, max(a.settle, b.settle))

    return [merged(a, b) for a, b in zip(left, right, strict=True)]


def _rest_z(name: str) -> Callable[[World], float]:
    return lambda w: w["table_z"] + w["objects"][name]["half"][2]


def _site_xy(site: str) -> Callable[[World], np.ndarray]:
    return lambda w: np.asarray(w["sites"][site]["pos"])


# --- scripts -----------------------------------------------------------------------


def _handle_point(sign: float) -> Callable[[World], tuple[np.ndarray, float, float]]:
    def point(w: World) -> tuple[np.ndarray, float, float]:
        pot = w["objects"]["pot"]
        xy = np.asarray(pot["pos"]) + sign * POT_HANDLE_X * _axis(pot["yaw"])
        z = pot["pos"][2] + POT_BODY[2] - POT_HANDLE[2] - 0.008
        return xy, float(z), float(pot["yaw"])
    return point


def lift_pot() -> list[Stage]:
    return _both(pick("left", _handle_point(-1.0), lift_to=0.2),
                 pick("right", _handle_point(1.0), lift_to=0.2))


def lift_bar() -> list[Stage]:
    return _both(pick("left", _object_point("bar", -0.12), lift_to=0.16),
                 pick("right", _object_point("bar", 0.12), lift_to=0.16))


def handover_bar() -> list[Stage]:
    meet = np.array([0.0, 0.06, 0.0])

    def bring(w: World) -> dict[str, Waypoint]:
        arm, bar = _arm(w, "left"), w["objects"]["bar"]
        grip = np.asarray(arm["eef"]) - np.asarray(bar["pos"])
        return {"left": _at(meet[:2] + grip[:2], w["table_z"] + CARRY_Z, arm["target_yaw"], 0.0)}

    def right_point(w: World) -> tuple[np.ndarray, float, float]:
        bar = w["objects"]["bar"]
        xy = np.asarray(bar["pos"]) + 0.05 * _axis(bar["yaw"])
        return xy, float(bar["pos"][2]), float(bar["yaw"])

    take = pick("right", right_point, lift_to=CARRY_Z)[:3]
    return [
        *pick("left", _object_point("bar", -0.05), lift_to=CARRY_Z),
        Stage(bring),
        *take,
        Stage(lambda w: {"left": _offset(w, "left", opening=1.0)}, settle=8),
        Stage(lambda w: {"left": _offset(w, "left", dz=0.06, opening=1.0)}),
        Stage(lambda w: {"left": _home("left")}),
        *carry_to("right", "bar", _site_xy("goal"), _rest_z("bar")),
    ]


def place_dual_blocks() -> list[Stage]:
    return _both(
        pick("left", _object_point("red_block"))
        + carry_to("left", "red_block", _site_xy("left_goal"), _rest_z("red_block")),
        pick("right", _object_point("blue_block"))
        + carry_to("right", "blue_block", _site_xy("right_goal"), _rest_z("blue_block")),
    )


def stack_blocks() -> list[Stage]:
    def on_red(w: World) -> float:
        red, green = w["objects"]["red_block"], w["objects"]["green_block"]
        return float(red["pos"][2] + red["half"][2] + green["half"][2])

    return [
        *pick("left", _object_point("red_block")),
        *carry_to("left", "red_block", _site_xy("center"), _rest_z("red_block")),
        Stage(lambda w: {"left": _home("left")}),
        *pick("right", _object_point("green_block")),
        *carry_to("right", "green_block",
                  lambda w: np.asarray(w["objects"]["red_block"]["pos"]), on_red),
    ]


def press_buttons() -> list[Stage]:
    def over(depth: float) -> Callable[[World], dict[str, Waypoint]]:
        def plan(w: World) -> dict[str, Waypoint]:
            out = {}
            for side in SIDES:
                top = np.asarray(w["buttons"][f"{side}_button"]["pos"])
                out[side] = _at(top, top[2] + FINGER_LEN / 2 + depth, 0.0, 0.0)
            return out
        return plan

    return [Stage(over(0.06)), Stage(over(-BUTTON_TRAVEL - 0.004), settle=6)]


def put_in_basket(w0: World) -> list[Stage]:
    side = _side_of(w0, "block")

    def basket(w: World) -> np.ndarray:
        return np.asarray(w["objects"]["basket"]["pos"])

    return [*pick(side, _object_point("block"), lift_to=0.2),
            *carry_to(side, "block", basket, lambda w: w["table_z"] + 0.12)]


def place_can_on_plate(w0: World) -> list[Stage]:
    def point(w: World) -> tuple[np.ndarray, float, float]:
        can = w["objects"]["can"]
        return np.asarray(can["pos"]), float(can["pos"][2] + 0.012), 0.0

    side = _side_of(w0, "can")
    return [*pick(side, point), *carry_to(side, "can", _site_xy("plate"), _rest_z("can"))]


#: Task name -> script builder; it sees the initial world (to choose an arm).
SCRIPTS: dict[str, Callable[[World], list[Stage]]] = {
    "lift_pot": lambda w0: lift_pot(),
    "lift_bar": lambda w0: lift_bar(),
    "handover_bar": lambda w0: handover_bar(),
    "place_dual_blocks": lambda w0: place_dual_blocks(),
    "stack_blocks": lambda w0: stack_blocks(),
    "press_buttons": lambda w0: press_buttons(),
    "put_in_basket": put_in_basket,
    "place_can_on_plate": place_can_on_plate,
}


def _wrap_half_turn(angle: float) -> float:
    return (angle + math.pi / 2) % math.pi - math.pi / 2


class RobotwinOracle:
    """Follows its task's stage script; each chunk moves the targets toward the waypoints."""

    def __init__(self, chunk_length: int = 5, replan_steps: int = 5) -> None:
        self.metadata = PolicyMetadata("scripted", chunk_length, replan_steps,
                                       family="oracle", privileged=True)
        self._task = ""

    def reset(self, task: str, seed: int) -> None:
        if task not in SCRIPTS:
            raise EpisodeError(POLICY_ERROR,
                               f"the robotwin_plus oracle has no script for task {task!r}")
        self._task = task
        self._stages: list[Stage] = []
        self._index = 0
        self._waypoints: dict[str, Waypoint] = {}  # empty until the first chunk plans
        self._held = 0

    def infer(self, observation: Observation) -> np.ndarray:
        world = observation.privileged
        if world.get("task") != self._task or "arms" not in world:
            raise EpisodeError(POLICY_ERROR,
                               "the robotwin_plus oracle needs the suite's privileged world state "
                               f"for task {self._task!r}; this env did not provide it")
        if not self._waypoints:
            self._stages = SCRIPTS[self._task](world)
            self._waypoints = {side: _offset(world, side) for side in SIDES}
            self._enter(world)
        self._advance(world)
        return self._chunk(world)

    def _enter(self, world: World) -> None:
        if self._index < len(self._stages):
            self._waypoints = {**self._waypoints, **self._stages[self._index].plan(world)}
        self._held = 0

    def _reached(self, world: World) -> bool:
        for side, wp in self._waypoints.items():
            arm = world["arms"][side]
            if np.linalg.norm(np.asarray(arm["eef"]) - wp.pos) > REACHED_M:
                return False
            if abs(_wrap_half_turn(arm["yaw"] - wp.yaw)) > REACHED_YAW:
                return False
        return True

    def _advance(self, world: World) -> None:
        while self._index < len(self._stages) and self._reached(world):
            if self._held < self._stages[self._index].settle:
                self._held += self.metadata.replan_steps
                return
            self._index += 1
            self._enter(world)

    def _chunk(self, world: World) -> np.ndarray:
        chunk = np.zeros((self.metadata.chunk_length, 10))
        for i, side in enumerate(SIDES):
            wp = self._waypoints[side]
            pos = np.asarray(world["arms"][side]["target"], dtype=float).copy()
            yaw = float(world["arms"][side]["target_yaw"])
            speed = CARRY_SPEED if wp.open < 0.5 else 1.0
            for k in range(self.metadata.chunk_length):
                move = np.clip((wp.pos - pos) / MAX_STEP_M, -speed, speed)
                turn = float(np.clip(_wrap_half_turn(wp.yaw - yaw) / MAX_STEP_YAW, -1.0, 1.0))
                chunk[k, i * 5:i * 5 + 3] = move
                chunk[k, i * 5 + 3] = turn
                chunk[k, i * 5 + 4] = 2.0 * wp.open - 1.0
                pos = pos + move * MAX_STEP_M
                yaw = yaw + turn * MAX_STEP_YAW
        return chunk


def make_oracle(ctx: PolicyContext) -> RobotwinOracle:
    """The `robotwin_plus` entry of `pytest_wamrobust.oracles`; `--policy-arg
    chunk_length=N` and `replan_steps=M` imitate another model's chunking."""
    return RobotwinOracle(*chunking(ctx, chunk_length=5, replan_steps=5))
