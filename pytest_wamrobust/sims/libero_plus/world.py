"""The privileged world state of a built LIBERO scene: what `Observation.privileged` holds.

Only simulator state a real privileged oracle would see: the gripper site's pose and
finger positions, every task object's and fixture's pose and collision extent, the
BDDL region sites, the joints of articulated fixtures, the support surface's height
and the goal predicates of the task's BDDL file as LIBERO parsed them. Never the
variant's perturbation parameters (camera, noise, which init joints were chosen).

Everything is numpy arrays, floats, strings, lists and dicts, so it also travels over
the websocket to a served oracle. Imported only by `env`, inside the episode process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class _Body:
    """One object or fixture: its root body, the bodies of its subtree and the points
    (in their geom's frame) whose hull is its collision geometry."""

    name: str
    body_id: int
    fixture: bool
    geoms: tuple[tuple[int, np.ndarray], ...]


def _hull_points(points: np.ndarray) -> np.ndarray:
    """The convex hull's vertices (all an axis-aligned box of the points needs)."""
    if len(points) <= 16:
        return points
    try:
        from scipy.spatial import ConvexHull

        return points[ConvexHull(points).vertices]
    except Exception:  # noqa: BLE001 - degenerate (flat) meshes: keep them whole
        return points


def _geom_points(model: Any, geom: int) -> np.ndarray:
    import mujoco

    if model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_MESH:
        mesh = model.geom_dataid[geom]
        start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        return _hull_points(np.asarray(model.mesh_vert[start:start + count], dtype=np.float64))
    centre, half = model.geom_aabb[geom][:3], model.geom_aabb[geom][3:]
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    return signs * half + centre


def _subtree(model: Any, root: int) -> set[int]:
    bodies = set()
    for body in range(model.nbody):
        b = body
        while b not in (root, 0):
            b = model.body_parentid[b]
        if b == root:
            bodies.add(body)
    return bodies


class WorldReader:
    """Built once per reset (robosuite rebuilds the simulation on a hard reset)."""

    def __init__(self, env: Any) -> None:
        self._env = env
        model = env.sim.model._model
        self._model = model
        bodies = []
        for fixture, table in ((False, env.objects_dict), (True, env.fixtures_dict)):
            for name, obj in table.items():
                root = model.body(obj.root_body).id
                subtree = _subtree(model, root)
                geoms = tuple(
                    (g, _geom_points(model, g)) for g in range(model.ngeom)
                    if model.geom_bodyid[g] in subtree
                    and (model.geom_contype[g] or model.geom_conaffinity[g])
                )
                bodies.append(_Body(name, root, fixture, geoms))
        self._bodies = tuple(bodies)
        self._goal = [[str(a).lower() if i == 0 else str(a) for i, a in enumerate(p)]
                      for p in env.parsed_problem["goal_state"]]
        self._table_z = self._support_height(model, env.sim.data._data)
        import mujoco

        self._joints = {}  # articulated things (drawers, doors, knobs): their hinge/slide joints
        for table in (env.fixtures_dict, env.objects_dict):
            for name, obj in table.items():
                ids = [model.joint(j).id for j in obj.joints]
                ids = [j for j in ids if model.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE]
                if ids:
                    self._joints[name] = ids

    @staticmethod
    def _support_height(model: Any, data: Any) -> float:
        """Top of the table the task is set on (the floor for floor scenes)."""
        import mujoco

        for name in ("table_collision", "main_table_collision"):
            geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
            if geom >= 0:
                return float(data.geom_xpos[geom][2] + model.geom_size[geom][2])
        return 0.0

    def read(self) -> dict[str, Any]:
        env, model = self._env, self._model
        data = env.sim.data._data
        robot = env.robots[0]
        site = robot.eef_site_id
        objects = {}
        for body in self._bodies:
            pos = np.array(data.xpos[body.body_id])
            rot = np.array(data.xmat[body.body_id]).reshape(3, 3)
            world = [np.asarray(p) @ np.asarray(data.geom_xmat[g]).reshape(3, 3).T
                     + data.geom_xpos[g] for g, p in body.geoms]
            points = np.concatenate(world) if world else pos[None]
            local = (points - pos) @ rot
            objects[body.name] = {
                "pos": pos,
                "quat": np.array(data.xquat[body.body_id]),  # w, x, y, z
                "aabb": np.stack((points.min(0), points.max(0))),
                "local_aabb": np.stack((local.min(0), local.max(0))),
                "fixture": body.fixture,
            }
        sites = {}
        for name, obj in env.object_sites_dict.items():
            sid = model.site(name).id
            sites[name] = {
                "pos": np.array(data.site_xpos[sid]),
                "xmat": np.array(data.site_xmat[sid]).reshape(3, 3),
                "size": np.asarray(getattr(obj, "size", model.site_size[sid]), dtype=np.float64),
                "parent": str(getattr(obj, "parent_name", "")),
            }
        joints = {
            name: {"qpos": np.array([data.qpos[model.jnt_qposadr[j]] for j in ids]),
                   "range": np.array([model.jnt_range[j] for j in ids])}
            for name, ids in self._joints.items()
        }
        return {
            "joint_pos": np.array(data.qpos[robot._ref_joint_pos_indexes]),
            "eef_pos": np.array(data.site_xpos[site]),
            "eef_xmat": np.array(data.site_xmat[site]).reshape(3, 3),
            "gripper_qpos": np.array(data.qpos[robot._ref_gripper_joint_pos_indexes]),
            "table_z": self._table_z,
            "goal": [list(p) for p in self._goal],
            "objects": objects,
            "sites": sites,
            "joints": joints,
        }
