"""The dual-arm tasks: what is on the table and when the goal holds.

A task is a layout (objects, goal sites and buttons, placed from the episode's random
generator) plus a success predicate over the world state - the same dict that oracle
policies receive as `Observation.privileged`, so the oracle can see nothing the
predicate cannot. Instructions and their rewrites live in suites/robotwin_plus.toml.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: Colours shared by tasks and instructions ("the red block").
RED = (0.85, 0.15, 0.12, 1.0)
BLUE = (0.15, 0.35, 0.85, 1.0)
GREEN = (0.15, 0.7, 0.25, 1.0)
YELLOW = (0.95, 0.8, 0.15, 1.0)
GREY = (0.5, 0.5, 0.55, 1.0)


@dataclass(frozen=True)
class ObjectSpec:
    """A loose rigid object. `shape` is box, cylinder, pot or basket; `half` its half extents."""

    name: str
    shape: str
    half: tuple[float, float, float]
    rgba: tuple[float, float, float, float]
    xy: tuple[float, float]
    yaw: float = 0.0
    density: float = 400.0


@dataclass(frozen=True)
class Site:
    """A goal region drawn on the table (no collision): centre and half extents."""

    xy: tuple[float, float]
    half: tuple[float, float]
    rgba: tuple[float, float, float, float] = (0.95, 0.95, 0.95, 1.0)


@dataclass(frozen=True)
class Layout:
    objects: tuple[ObjectSpec, ...]
    sites: Mapping[str, Site] = field(default_factory=dict)
    buttons: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def moved(self, jitter_m: float, angle_rad: float, yaw_deg: float) -> Layout:
        """The layout axis' target move: every task object shifted and turned alike."""
        dx, dy = jitter_m * math.cos(angle_rad), jitter_m * math.sin(angle_rad)
        yaw = math.radians(yaw_deg)
        return replace(self, objects=tuple(
            replace(o, xy=(o.xy[0] + dx, o.xy[1] + dy), yaw=o.yaw + yaw) for o in self.objects))


#: Pot geometry: body half extents, handle half extents and handle centre offset.
POT_BODY = (0.075, 0.075, 0.05)
POT_HANDLE = (0.03, 0.012, 0.01)
POT_HANDLE_X = POT_BODY[0] + POT_HANDLE[0]
BASKET_WALL = 0.065
BUTTON_BASE_H = 0.03
BUTTON_CAP = (0.025, 0.025, 0.01)
BUTTON_TRAVEL = 0.02
PRESSED = 0.011
LIFTED = 0.08


#: The distance over which a "bring it there" task's progress falls from 1 to 0.
PROGRESS_SPAN_M = 0.3


@dataclass(frozen=True)
class TaskDef:
    layout: Callable[[np.random.Generator], Layout]
    success: Callable[[Mapping[str, Any]], bool]
    arms: str  # "both" or "either": which arms the task needs
    #: how far toward the goal, in [0, 1): lifted height, distance to the goal, depth
    score: Callable[[Mapping[str, Any]], float]


def progress(task: TaskDef, world: Mapping[str, Any]) -> float:
    """Progress toward the goal in [0, 1], 1 only when it holds: what --wam-search
    targets (a slow solve is close to one that fails)."""
    if task.success(world):
        return 1.0
    return float(min(0.99, max(0.0, task.score(world))))


def _u(rng: np.random.Generator, spread: float) -> float:
    return float(rng.uniform(-spread, spread))


def _obj(world: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return world["objects"][name]


def resting_on(world: Mapping[str, Any], name: str, site: str) -> bool:
    """Object inside the site's footprint, on the table and at rest-height."""
    obj, goal = _obj(world, name), world["sites"][site]
    inside = all(abs(obj["pos"][i] - goal["pos"][i]) <= goal["half"][i] for i in (0, 1))
    return inside and obj["pos"][2] <= world["table_z"] + obj["half"][2] + 0.012


def lifted(world: Mapping[str, Any], name: str) -> bool:
    obj = _obj(world, name)
    return obj["pos"][2] >= world["table_z"] + obj["half"][2] + LIFTED


def height(world: Mapping[str, Any], name: str) -> float:
    """How far toward `lifted`: the object's height above rest over LIFTED."""
    obj = _obj(world, name)
    return float((obj["pos"][2] - world["table_z"] - obj["half"][2]) / LIFTED)


def near(world: Mapping[str, Any], name: str, xy: Any) -> float:
    """1 at `xy` (in the plane), falling to 0 at PROGRESS_SPAN_M away."""
    gap = math.dist(_obj(world, name)["pos"][:2], xy[:2])
    return 1.0 - gap / PROGRESS_SPAN_M


def _site(world: Mapping[str, Any], site: str) -> Any:
    return world["sites"][site]["pos"]


# --- both arms ---------------------------------------------------------------------


def _lift_pot(rng: np.random.Generator) -> Layout:
    return Layout((ObjectSpec("pot", "pot", POT_BODY, GREY, (_u(rng, 0.03), 0.06 + _u(rng, 0.03)),
                              math.radians(_u(rng, 8.0)), density=150.0),))


def _lift_bar(rng: np.random.Generator) -> Layout:
    return Layout((ObjectSpec("bar", "box", (0.16, 0.018, 0.018), YELLOW,
                              (_u(rng, 0.03), 0.08 + _u(rng, 0.03)), math.radians(_u(rng, 8.0))),))


def _handover_bar(rng: np.random.Generator) -> Layout:
    return Layout(
        (ObjectSpec("bar", "box", (0.09, 0.018, 0.018), BLUE,
                    (-0.2 + _u(rng, 0.03), 0.02 + _u(rng, 0.03)), math.radians(_u(rng, 8.0))),),
        sites={"goal": Site((0.2 + _u(rng, 0.02), 0.14 + _u(rng, 0.02)), (0.07, 0.06))},
    )


def _place_dual_blocks(rng: np.random.Generator) -> Layout:
    return Layout(
        (ObjectSpec("red_block", "box", (0.022,) * 3, RED, (-0.2 + _u(rng, 0.03), _u(rng, 0.04)),
                    math.radians(_u(rng, 20.0))),
         ObjectSpec("blue_block", "box", (0.022,) * 3, BLUE, (0.2 + _u(rng, 0.03), _u(rng, 0.04)),
                    math.radians(_u(rng, 20.0)))),
        sites={"left_goal": Site((-0.12 + _u(rng, 0.02), 0.2), (0.05, 0.05), RED),
               "right_goal": Site((0.12 + _u(rng, 0.02), 0.2), (0.05, 0.05), BLUE)},
    )


def _stack_blocks(rng: np.random.Generator) -> Layout:
    return Layout(
        (ObjectSpec("red_block", "box", (0.024,) * 3, RED,
                    (-0.22 + _u(rng, 0.03), 0.04 + _u(rng, 0.04)), math.radians(_u(rng, 20.0))),
         ObjectSpec("green_block", "box", (0.02,) * 3, GREEN,
                    (0.22 + _u(rng, 0.03), 0.04 + _u(rng, 0.04)), math.radians(_u(rng, 20.0)))),
        sites={"center": Site((_u(rng, 0.02), 0.14 + _u(rng, 0.02)), (0.03, 0.03))},
    )


def _press_buttons(rng: np.random.Generator) -> Layout:
    return Layout((), buttons={
        "left_button": (-0.14 + _u(rng, 0.03), 0.12 + _u(rng, 0.03)),
        "right_button": (0.14 + _u(rng, 0.03), 0.12 + _u(rng, 0.03)),
    })


def _stacked(world: Mapping[str, Any]) -> bool:
    red, green = _obj(world, "red_block"), _obj(world, "green_block")
    on_top = math.dist(red["pos"][:2], green["pos"][:2]) < 0.02
    height = abs(green["pos"][2] - red["pos"][2] - red["half"][2] - green["half"][2]) < 0.01
    return on_top and height and red["pos"][2] < world["table_z"] + red["half"][2] + 0.01


# --- either arm --------------------------------------------------------------------


def _side(rng: np.random.Generator) -> float:
    return -1.0 if rng.random() < 0.5 else 1.0


def _put_in_basket(rng: np.random.Generator) -> Layout:
    side = _side(rng)
    return Layout((
        ObjectSpec("basket", "basket", (0.08, 0.08, BASKET_WALL / 2), (0.55, 0.35, 0.2, 1.0),
                   (_u(rng, 0.02), 0.1 + _u(rng, 0.02)), density=300.0),
        ObjectSpec("block", "box", (0.02,) * 3, GREEN, (side * 0.22 + _u(rng, 0.03), _u(rng, 0.04)),
                   math.radians(_u(rng, 30.0))),
    ))


def _in_basket(world: Mapping[str, Any]) -> bool:
    basket, block = _obj(world, "basket"), _obj(world, "block")
    c, s = math.cos(-basket["yaw"]), math.sin(-basket["yaw"])
    dx, dy = (block["pos"][0] - basket["pos"][0]), (block["pos"][1] - basket["pos"][1])
    inside = abs(c * dx - s * dy) < basket["half"][0] and abs(s * dx + c * dy) < basket["half"][1]
    return inside and block["pos"][2] < world["table_z"] + BASKET_WALL


def _place_can_on_plate(rng: np.random.Generator) -> Layout:
    side = _side(rng)
    return Layout(
        (ObjectSpec("can", "cylinder", (0.025, 0.025, 0.045), RED,
                    (side * 0.21 + _u(rng, 0.03), -0.02 + _u(rng, 0.03))),),
        sites={"plate": Site((side * 0.1 + _u(rng, 0.03), 0.14 + _u(rng, 0.03)), (0.05, 0.05),
                             (0.92, 0.92, 0.88, 1.0))},
    )


TASKS: dict[str, TaskDef] = {
    "lift_pot": TaskDef(_lift_pot, lambda w: lifted(w, "pot"), "both",
                        lambda w: height(w, "pot")),
    "lift_bar": TaskDef(_lift_bar, lambda w: lifted(w, "bar"), "both",
                        lambda w: height(w, "bar")),
    "handover_bar": TaskDef(_handover_bar, lambda w: resting_on(w, "bar", "goal"), "both",
                            lambda w: near(w, "bar", _site(w, "goal"))),
    "place_dual_blocks": TaskDef(
        _place_dual_blocks,
        lambda w: (resting_on(w, "red_block", "left_goal")
                   and resting_on(w, "blue_block", "right_goal")),
        "both",
        lambda w: (near(w, "red_block", _site(w, "left_goal"))
                   + near(w, "blue_block", _site(w, "right_goal"))) / 2),
    "stack_blocks": TaskDef(_stack_blocks, _stacked, "both",
                            lambda w: near(w, "green_block", _obj(w, "red_block")["pos"])),
    "press_buttons": TaskDef(
        _press_buttons, lambda w: all(b["depth"] >= PRESSED for b in w["buttons"].values()),
        "both",
        lambda w: sum(min(1.0, b["depth"] / PRESSED) for b in w["buttons"].values())
        / max(1, len(w["buttons"]))),
    "put_in_basket": TaskDef(_put_in_basket, _in_basket, "either",
                             lambda w: near(w, "block", _obj(w, "basket")["pos"])),
    "place_can_on_plate": TaskDef(_place_can_on_plate, lambda w: resting_on(w, "can", "plate"),
                                  "either", lambda w: near(w, "can", _site(w, "plate"))),
}
