"""One tabletop episode behind the core `Env` protocol.

Built once per EpisodeSpec: the task's randomised layout (from the episode seed), the
case's scene edit, compile, then reset/step/observe. The renderer is created on the
first `observe`, in the process that runs the episode (each xdist worker its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_wamrobust.core.cases.seeding import rng_for
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, EpisodeSpec, Observation
from pytest_wamrobust.sims.tabletop import robot
from pytest_wamrobust.sims.tabletop.controller import (
    CONTROL_HZ,
    DeltaEefController,
    quat_to_axis_angle,
)
from pytest_wamrobust.sims.tabletop.gl import import_mujoco, make_renderer
from pytest_wamrobust.sims.tabletop.props import DRAWER_JOINT, HANDLE_SITE
from pytest_wamrobust.sims.tabletop.scene import AGENTVIEW, SceneSpec, to_mjcf
from pytest_wamrobust.sims.tabletop.scene_axes import edit_scene, initial_arm
from pytest_wamrobust.sims.tabletop.tasks import SimView, Task, get_task, progress
from pytest_wamrobust.sims.tabletop.textures import render_surface


def env_spec(image_size: int) -> EnvSpec:
    return EnvSpec(
        suite="tabletop",
        cameras=(CameraSpec(AGENTVIEW, image_size, image_size, "third_person"),
                 CameraSpec(robot.WRIST_CAMERA, image_size, image_size, "wrist")),
        state_dim=8,
        action_dim=7,
        control_hz=CONTROL_HZ,
        action_semantics=("delta_eef_pos_xyz(3, x0.05 m) delta_eef_axis_angle(3, x0.5 rad) "
                          "gripper(1, -1 open +1 close); LIBERO OSC_POSE convention"),
        state_semantics="eef_pos(3) eef_axis_angle(3) gripper_qpos(2); LIBERO/openpi convention",
    )


def scene_for(spec: EpisodeSpec, task: Task, image_size: int) -> SceneSpec:
    """The clean scene of this episode's seed, with the case's scene-side axis applied."""
    clean = SceneSpec(image_size=image_size, props=task.layout(rng_for(spec.episode_seed)))
    return edit_scene(clean, spec.setting, spec.params, task.target)


class TabletopEnv:
    def __init__(self, spec: EpisodeSpec, image_size: int = 128) -> None:
        self.episode = spec
        self.task = get_task(spec.task.name)
        self.spec = env_spec(image_size)
        self.scene = scene_for(spec, self.task, image_size)
        self._mj = import_mujoco()
        self.model = self._mj.MjModel.from_xml_string(to_mjcf(self.scene))
        self._fill_textures()
        self.data = self._mj.MjData(self.model)
        self.controller = DeltaEefController(self._mj, self.model, self.data)
        self.view = SimView(self.model, self.data, self.scene.table_z)
        self._renderer: Any = None  # a mujoco.Renderer once the first image is asked for

    def _fill_textures(self) -> None:
        for name, surface in (("table_tex", self.scene.table), ("wall_tex", self.scene.wall)):
            tex = self.model.texture(name)
            start = int(tex.adr[0])
            pixels = render_surface(surface)
            self.model.tex_data[start:start + pixels.size] = pixels.reshape(-1)

    def reset(self) -> Observation:
        mj, data = self._mj, self.data
        mj.mj_resetData(self.model, data)
        robot_init = self.episode.setting == "robot_init"
        arm, gripper = initial_arm(self.episode.params if robot_init else None)
        data.qpos[self.controller.qpos_idx] = arm
        opening = {"open": robot.FINGER_OPEN, "closed": 0.0}.get(gripper, robot.FINGER_OPEN)
        for finger in robot.FINGERS:
            data.joint(finger).qpos[0] = opening
        for joint, value in self.task.initial_joints.items():
            data.joint(joint).qpos[0] = value
        self.controller.hold()
        self.controller.set_gripper(1.0 if gripper == "closed" else -1.0)
        mj.mj_forward(self.model, data)
        return self.observe()

    def step(self, action: np.ndarray) -> None:
        self.controller.step(np.asarray(action, dtype=np.float64))

    def state(self) -> np.ndarray:
        site = self.data.site(robot.EEF_SITE)
        quat = np.zeros(4)
        self._mj.mju_mat2Quat(quat, site.xmat)
        fingers = [self.data.joint(f).qpos[0] for f in robot.FINGERS]
        return np.concatenate([site.xpos, quat_to_axis_angle(quat), [fingers[0], -fingers[1]]])

    def privileged(self) -> dict[str, Any]:
        """Simulator state for oracles: poses and joints, never the perturbation parameters."""
        site = self.data.site(robot.EEF_SITE)
        out: dict[str, Any] = {
            "task": self.task.name,
            "plan": self.task.plan,
            "table_z": self.scene.table_z,
            "eef_pos": site.xpos.copy(),
            "eef_xmat": site.xmat.reshape(3, 3).copy(),
            "gripper_opening": float(sum(self.data.joint(f).qpos[0] for f in robot.FINGERS)),
            "object_half": self.task.object_half,
            "object_width": self.task.object_width,
            "goal_top": self.task.goal_top,
        }
        for role, body in self.task.roles.items():
            out[f"{role}_pos"] = self.view.pos(body)
            out[f"{role}_quat"] = self.view.quat(body)
        if self.task.plan in ("open_drawer", "close_drawer"):
            out["drawer_qpos"] = self.view.joint(DRAWER_JOINT)
            out["handle_pos"] = self.view.site(HANDLE_SITE)
        return out

    def render(self, camera: str) -> np.ndarray:
        if self._renderer is None:
            self._renderer = make_renderer(self._mj, self.model, self.scene.image_size)
        self._renderer.update_scene(self.data, camera=camera)
        return self._renderer.render()

    def observe(self) -> Observation:
        images = {name: self.render(name) for name in self.spec.camera_names}
        return Observation(images=images, state=self.state(),
                           instruction=self.episode.task.instruction, privileged=self.privileged())

    def success(self) -> bool:
        return bool(self.task.success(self.view))

    def progress(self) -> float:
        """Progress toward the goal in [0, 1]: the optional score --wam-search targets."""
        return progress(self.task, self.view)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
