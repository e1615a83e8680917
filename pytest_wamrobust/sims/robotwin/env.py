"""One perturbed dual-arm scene in SAPIEN behind the core `Env` protocol.

The scene is built in the process that runs the episode (xdist worker), on first
reset; rendering happens only in `observe()`, which the runner calls once per replan.
Actions: per arm [dx, dy, dz, dyaw, gripper] in [-1, 1], a bounded move of the
end-effector target per control step and an absolute gripper opening.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.errors import ENV_ERROR, EpisodeError
from pytest_wamrobust.core.model.types import EnvSpec, EpisodeSpec, Observation
from pytest_wamrobust.sims.robotwin import scene as scene_lib
from pytest_wamrobust.sims.robotwin.arm import ARM_JOINTS, EefTarget, quat_axis_angle
from pytest_wamrobust.sims.robotwin.robot import HOME, Arm
from pytest_wamrobust.sims.robotwin.scene import KeepOut
from pytest_wamrobust.sims.robotwin.tasks import (
    BUTTON_BASE_H,
    BUTTON_CAP,
    BUTTON_TRAVEL,
    POT_BODY,
    POT_HANDLE,
    POT_HANDLE_X,
    TASKS,
    Layout,
    ObjectSpec,
    progress,
)

CONTROL_HZ = 20.0
PHYSICS_HZ = 400
SUBSTEPS = int(PHYSICS_HZ / CONTROL_HZ)
#: Largest end-effector move per control step: 2 cm, 0.15 rad.
MAX_STEP_M = 0.02
MAX_STEP_YAW = 0.15
SIDES = ("left", "right")
#: Keep-out discs for the layout axis' distractors (m): a task object's footprint plus
#: room for the fingers, a target pad's half-diagonal plus a margin, a button, an arm's
#: base (its first links sweep that much of the table).
OBJECT_MARGIN_M = 0.07
PAD_MARGIN_M = 0.03
BUTTON_KEEP_OUT_M = 0.09
ARM_BASE_KEEP_OUT_M = 0.16
ACTION_SEMANTICS = (
    "per arm (left then right): delta_eef_xyz(3) x 0.02 m, delta_gripper_yaw(1) x 0.15 rad, "
    "gripper_opening(1) (-1 closed .. 1 open); the hand points down"
)
STATE_SEMANTICS = (
    "per arm (left then right): joint_pos(5) rad [yaw, shoulder, elbow, wrist_pitch, wrist_roll], "
    "gripper_opening(1) 0..1, eef_xyz(3) m, eef_yaw(1) rad"
)


class RobotwinEnv:
    """The scene of one EpisodeSpec; `render=False` runs physics only (no images)."""

    def __init__(self, episode: EpisodeSpec, env_spec: EnvSpec, render: bool = True) -> None:
        self.episode = episode
        self.spec = env_spec
        self.render = render
        self.task = TASKS[episode.task.name]
        self._scene: Any = None

    # --- building ------------------------------------------------------------------

    def _params(self, axis: str) -> Mapping[str, Any]:
        return self.episode.params if self.episode.setting == axis else {}

    def _build(self) -> None:
        import sapien

        from pytest_wamrobust.sims.robotwin.vulkan import render_system

        systems = [sapien.physx.PhysxCpuSystem()]
        if self.render:
            systems.append(render_system())
        self._scene = scene = sapien.Scene(systems)
        scene.set_timestep(1.0 / PHYSICS_HZ)
        material = scene.create_physical_material(1.5, 1.2, 0.0)
        background = self._params("background")
        self.table_z = float(background.get("table_height_m", 0.0))
        scene_lib.build_table(scene, self.table_z, background, self.render, material)
        self.arms = {side: Arm(scene, side, 0.0, self.render, material) for side in SIDES}

        rng = np.random.Generator(np.random.PCG64(self.episode.episode_seed))
        layout: Layout = self.task.layout(rng)
        layout_params = self._params("layout")
        if layout_params:
            target = layout_params["target"]
            layout = layout.moved(float(target["jitter_m"]), float(target["jitter_angle_rad"]),
                                  float(target["yaw_deg"]))
        self.layout = layout
        self.objects = {o.name: self._build_object(o, material) for o in layout.objects}
        self.buttons = {name: self._build_button(name, xy, material)
                        for name, xy in layout.buttons.items()}
        if self.render:
            for name, site in layout.sites.items():
                builder = scene.create_actor_builder()
                builder.add_box_visual(half_size=[site.half[0], site.half[1], 0.001],
                                       material=scene_lib.render_material(site.rgba))
                builder.set_initial_pose(
                    sapien.Pose([site.xy[0], site.xy[1], self.table_z + 0.001]))
                builder.build_static(name=f"site_{name}")
        keep_out = [KeepOut(o.xy, math.hypot(*self._footprint(o)) + OBJECT_MARGIN_M)
                    for o in layout.objects]
        keep_out += [KeepOut(s.xy, math.hypot(*s.half) + PAD_MARGIN_M)
                     for s in layout.sites.values()]
        keep_out += [KeepOut(xy, BUTTON_KEEP_OUT_M) for xy in layout.buttons.values()]
        keep_out += [KeepOut((a.kin.base[0], a.kin.base[1]), ARM_BASE_KEEP_OUT_M)
                     for a in self.arms.values()]
        self.distractors = scene_lib.place_distractors(
            scene, int(layout_params.get("n_distractors", 0)),
            int(layout_params.get("distractor_seed", 0)),
            self.table_z, keep_out, self.render, material)
        self._initial = {actor: actor.pose for actor in [*self.objects.values(), *self.distractors]}

        if self.render:
            scene_lib.add_lights(scene, self._params("light"))
            sizes = {c.name: (c.width, c.height) for c in self.spec.cameras}
            self.cameras = {
                "head": scene_lib.add_head_camera(scene, *sizes["head"], self._params("camera"))}
            for side in SIDES:
                name = f"{side}_wrist"
                self.cameras[name] = scene_lib.add_wrist_camera(
                    scene, name, self.arms[side].hand.entity, *sizes[name])

    @staticmethod
    def _footprint(o: ObjectSpec) -> tuple[float, float]:
        if o.shape == "pot":
            return (POT_HANDLE_X + POT_HANDLE[0], POT_BODY[1])
        return (o.half[0], o.half[1])

    def _build_object(self, o: ObjectSpec, material: Any) -> Any:
        import sapien

        builder = self._scene.create_actor_builder()

        def box(center: list[float], half: list[float]) -> None:
            builder.add_box_collision(sapien.Pose(center), half, material=material,
                                      density=o.density)
            if self.render:
                builder.add_box_visual(sapien.Pose(center), half,
                                       material=scene_lib.render_material(o.rgba))

        if o.shape == "box":
            box([0, 0, 0], list(o.half))
        elif o.shape == "cylinder":
            upright = sapien.Pose(q=quat_axis_angle((0.0, 1.0, 0.0), math.pi / 2))
            builder.add_cylinder_collision(upright, o.half[0], o.half[2], material=material,
                                           density=o.density)
            if self.render:
                builder.add_cylinder_visual(upright, o.half[0], o.half[2],
                                            material=scene_lib.render_material(o.rgba))
        elif o.shape == "pot":
            box([0, 0, 0], list(POT_BODY))
            handle_z = POT_BODY[2] - POT_HANDLE[2] - 0.008
            for sign in (-1.0, 1.0):
                box([sign * POT_HANDLE_X, 0, handle_z], list(POT_HANDLE))
        elif o.shape == "basket":
            hx, hy, hz = o.half
            t = 0.005
            box([0, 0, -hz + t], [hx, hy, t])
            for sign in (-1.0, 1.0):
                box([sign * (hx - t), 0, 0], [t, hy, hz])
                box([0, sign * (hy - t), 0], [hx, t, hz])
        else:
            raise EpisodeError(ENV_ERROR, f"unknown object shape {o.shape!r} in task layout")
        builder.set_initial_pose(sapien.Pose([o.xy[0], o.xy[1], self.table_z + o.half[2] + 5e-4],
                                             quat_axis_angle((0.0, 0.0, 1.0), o.yaw)))
        return builder.build(name=o.name)

    def _build_button(self, name: str, xy: tuple[float, float], material: Any) -> Any:
        """A spring-loaded push button: static base, a cap on a prismatic joint."""
        import sapien

        builder = self._scene.create_articulation_builder()
        base = builder.create_link_builder()
        base.set_name(f"{name}_base")
        half = [0.04, 0.04, BUTTON_BASE_H / 2]
        base.add_box_collision(sapien.Pose([0, 0, BUTTON_BASE_H / 2]), half, material=material)
        cap = builder.create_link_builder(base)
        cap.set_name(f"{name}_cap")
        cap.add_box_collision(half_size=list(BUTTON_CAP), material=material, density=200)
        if self.render:
            base.add_box_visual(sapien.Pose([0, 0, BUTTON_BASE_H / 2]), half,
                                material=scene_lib.render_material((0.2, 0.2, 0.22, 1.0)))
            cap.add_box_visual(half_size=list(BUTTON_CAP),
                               material=scene_lib.render_material((0.9, 0.1, 0.1, 1.0)))
        up = quat_axis_angle((0.0, 1.0, 0.0), -math.pi / 2)
        cap.set_joint_properties("prismatic", [[-BUTTON_TRAVEL, 0.0]],
                                 sapien.Pose([0, 0, BUTTON_BASE_H + BUTTON_CAP[2] + 0.002], up),
                                 sapien.Pose([0, 0, 0], up))
        button = builder.build(fix_root_link=True)
        button.set_root_pose(sapien.Pose([xy[0], xy[1], self.table_z]))
        joint = button.get_active_joints()[0]
        joint.set_drive_properties(400.0, 20.0)
        joint.set_drive_target(0.0)
        return button

    # --- the Env protocol ----------------------------------------------------------

    def reset(self) -> Observation:
        if self._scene is None:
            self._build()
        for actor, pose in self._initial.items():
            actor.set_pose(pose)
            body = actor.find_component_by_type(_rigid_dynamic())
            body.set_linear_velocity([0.0, 0.0, 0.0])
            body.set_angular_velocity([0.0, 0.0, 0.0])
        for button in self.buttons.values():
            button.set_qpos(np.zeros(1))
            button.set_qvel(np.zeros(1))
        robot = self._params("robot_init")
        offsets = np.asarray(robot.get("joint_offsets", [0.0] * 2 * ARM_JOINTS), dtype=float)
        if offsets.shape != (2 * ARM_JOINTS,):
            raise EpisodeError(ENV_ERROR, f"robot_init needs {2 * ARM_JOINTS} joint offsets "
                               f"(5 per arm); got {offsets.size}: "
                               "set [axes.robot_init] n_joints = 10")
        opening = {"open": 1.0, "closed": 0.0}.get(str(robot.get("gripper", "keep")), 1.0)
        for i, side in enumerate(SIDES):
            arm = self.arms[side]
            home = arm.kin.inverse(EefTarget(HOME[side], 0.0))
            arm.reset(home + offsets[i * ARM_JOINTS:(i + 1) * ARM_JOINTS], opening)
        self._steps = 0
        return self.observe()

    def step(self, action: np.ndarray) -> None:
        action = np.asarray(action, dtype=float)
        for i, side in enumerate(SIDES):
            a = action[i * 5:(i + 1) * 5]
            arm = self.arms[side]
            target = EefTarget(arm.target.pos + a[:3] * MAX_STEP_M,
                               arm.target.yaw + a[3] * MAX_STEP_YAW)
            arm.command(target, (a[4] + 1.0) / 2.0)
        for _ in range(SUBSTEPS):
            self._scene.step()
        self._steps += 1

    def world(self) -> dict[str, Any]:
        """Simulator state: the success predicates' input and the oracle's privileged view."""
        objects = {}
        for spec in self.layout.objects:
            pose = self.objects[spec.name].pose
            w, x, y, z = (float(v) for v in pose.q)
            objects[spec.name] = {
                "pos": np.asarray(pose.p, dtype=float), "quat": np.asarray(pose.q, dtype=float),
                "yaw": math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)),
                "half": spec.half, "shape": spec.shape,
            }
        sites = {name: {"pos": np.array([s.xy[0], s.xy[1], self.table_z]), "half": s.half}
                 for name, s in self.layout.sites.items()}
        cap_z = self.table_z + BUTTON_BASE_H + 2 * BUTTON_CAP[2]
        buttons = {name: {"pos": np.array([xy[0], xy[1], cap_z]), "depth": -float(b.get_qpos()[0])}
                   for (name, xy), b in zip(self.layout.buttons.items(), self.buttons.values(),
                                            strict=True)}
        arms = {}
        for side, arm in self.arms.items():
            eef = arm.eef()
            arms[side] = {"eef": eef.pos, "yaw": eef.yaw, "target": arm.target.pos.copy(),
                          "target_yaw": arm.target.yaw, "opening": arm.opening(), "qpos": arm.qpos}
        return {"task": self.episode.task.name, "table_z": self.table_z, "objects": objects,
                "sites": sites, "buttons": buttons, "arms": arms, "step": self._steps}

    def observe(self) -> Observation:
        world = self.world()
        state = np.concatenate([
            np.concatenate([a["qpos"][:ARM_JOINTS], [a["opening"]], a["eef"], [a["yaw"]]])
            for a in (world["arms"][s] for s in SIDES)
        ]).astype(np.float32)
        return Observation(images=self._render() if self.render else {}, state=state,
                           instruction=self.episode.task.instruction, privileged=world)

    def _render(self) -> dict[str, np.ndarray]:
        self._scene.update_render()
        images = {}
        for name, camera in self.cameras.items():
            camera.take_picture()
            rgba = camera.get_picture("Color")
            images[name] = (np.clip(rgba[..., :3], 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
        return images

    def success(self) -> bool:
        return bool(self.task.success(self.world()))

    def progress(self) -> float:
        """Progress toward the goal in [0, 1]: the optional score --wam-search targets."""
        return progress(self.task, self.world())

    def close(self) -> None:
        self._scene = None
        self.cameras = {}
        self.objects = {}
        self.distractors = []
        self._initial = {}


def _rigid_dynamic() -> type:
    import sapien

    return sapien.physx.PhysxRigidDynamicComponent
