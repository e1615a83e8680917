"""Demonstrations: the scripted oracle's rollouts on clean scenes, one compressed npz each.

An episode file holds, per step t, every camera (downsampled uint8), the raw state, the
action executed and the oracle's full plan from that observation (the training label).
Demo scenes use seed indices from `DEMO_SEED_START` up, a range the test grid never
reaches; `record` also refuses any demo scene whose episode seed equals a test seed. A
suite whose scenes are not drawn from the seed (LIBERO's recorded init states) names
its held-out demo scenes itself with `demo_case(task, index) -> CaseKey | None` (None:
the task has no more scenes, and its recording stops there).
On 7-d end-effector suites, half the demos execute noisy actions (DART-style: position,
and on the tabletop also yaw while high) so the data covers recoveries while the labels
stay the oracle's clean plan; other suites (the dual-arm one) record the oracle's own
actions. `every` > 1 stores one step in `every` (and the policy's replanning steps),
rendering only those: the observations a policy sees when it replans.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytest_wamrobust.core.cases.seeding import episode_seed, rng_for
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import Suite
from pytest_wamrobust.core.model.types import CLEAN, CameraSpec, CaseKey, Observation
from pytest_wamrobust.policies.tiny.features import downsample

#: First seed index of demo scenes; test grids use 0..(seeds x levels - 1).
DEMO_SEED_START = 100_000
#: Test seed indices checked for collisions with demo scenes.
TEST_SEED_RANGE = range(1000)
#: Std of the noise on executed position actions (rotation noise makes the oracle drop cubes).
ACTION_NOISE = 0.1
#: Yaw noise while the hand is high above the table, so demos show the oracle turning
#: a misaligned hand back onto the cube's faces (the one thing a first frame hides).
YAW_NOISE = 0.3
YAW_NOISE_ABOVE = 0.07
#: Suites whose oracle turns a yaw-perturbed hand back (LIBERO's bowl rim grasps get
#: position noise only).
YAW_NOISE_SUITES = ("tabletop",)


@dataclass
class Episode:
    task: str
    instruction: str
    seed_index: int
    images: dict[str, np.ndarray]  # camera -> (T, h, w, 3) uint8
    states: np.ndarray  # (T, state_dim)
    actions: np.ndarray  # (T, action_dim) executed
    plans: np.ndarray  # (T, H, action_dim) oracle plan from each observation

    def save(self, path: Path) -> None:
        meta = {"task": self.task, "instruction": self.instruction, "seed_index": self.seed_index}
        # Any: numpy's stubs would check **arrays against savez's `allow_pickle: bool`.
        arrays: dict[str, Any] = {f"image_{name}": frames for name, frames in self.images.items()}
        np.savez_compressed(path, states=self.states, actions=self.actions, plans=self.plans,
                            meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: Path) -> Episode:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            images = {k[len("image_"):]: data[k] for k in data.files if k.startswith("image_")}
            return cls(meta["task"], meta["instruction"], meta["seed_index"], images,
                       data["states"], data["actions"], data["plans"])


def demo_key(suite: str, task: str, index: int) -> CaseKey:
    key = CaseKey(suite, task, CLEAN, 0, DEMO_SEED_START + index)
    test_seeds = {episode_seed(CaseKey(suite, task, CLEAN, 0, j)) for j in TEST_SEED_RANGE}
    if episode_seed(key) in test_seeds:
        raise UsageError(f"demo scene {key.case_id} coincides with a test scene; skip it")
    return key


def stored_size(camera: CameraSpec, image_size: int) -> tuple[int, int]:
    """(height, width) a camera is stored at: `image_size` wide, the aspect ratio kept."""
    if camera.width % image_size or (camera.height * image_size) % camera.width:
        raise UsageError(f"camera {camera.name} is {camera.width}x{camera.height}: "
                         f"--image-size must divide its width and keep the aspect ratio "
                         f"(e.g. {camera.width // 2})")
    return camera.height * image_size // camera.width, image_size


def _action_noise(action: np.ndarray, privileged: dict, rng: np.random.Generator,
                  yaw: bool) -> np.ndarray:
    high = yaw and privileged["eef_pos"][2] > privileged["table_z"] + YAW_NOISE_ABOVE
    yaw_noise = rng.normal(0, YAW_NOISE) if high else 0.0
    return action + np.r_[rng.normal(0, ACTION_NOISE, 3), 0.0, 0.0, yaw_noise, 0.0]


def record_episode(suite: Suite, oracle, key: CaseKey, image_size: int,
                   noisy: bool, every: int = 1) -> Episode | None:
    """Roll out the oracle once; None if it failed (only successes become demos)."""
    spec = suite.episode_spec(key)
    env = suite.make_env(spec)
    rng = rng_for(episode_seed(key))  # the suite's own seed; LIBERO's is 7 for every scene
    sizes = {camera.name: stored_size(camera, image_size) for camera in env.spec.cameras}
    frames: dict[str, list[np.ndarray]] = {name: [] for name in env.spec.camera_names}
    states, actions, plans = [], [], []
    try:
        obs: Observation | None = env.reset()
        assert obs is not None
        oracle.reset(spec.task.name, spec.episode_seed)
        noisy = noisy and env.spec.action_dim == 7 and "eef_pos" in obs.privileged
        yaw = suite.name in YAW_NOISE_SUITES
        privileged = obs.privileged
        executing: np.ndarray = np.empty((0, env.spec.action_dim))
        for t in range(spec.max_steps):
            if obs is None and (len(executing) == 0 or t % every == 0):
                obs = env.observe()
            if obs is not None:
                plan = oracle.infer(obs)
                if len(executing) == 0:
                    executing = plan[: oracle.metadata.replan_steps]
                privileged = obs.privileged
            action = executing[0]
            executing = executing[1:]
            if noisy:
                action = _action_noise(action, privileged, rng, yaw)
            action = np.clip(action, -1.0, 1.0)
            if obs is not None:
                for name, image in obs.images.items():
                    height, width = sizes[name]
                    frames[name].append(downsample(image, width, height))
                states.append(obs.state)
                actions.append(action)
                plans.append(plan)
            env.step(action)
            if env.success():
                return Episode(spec.task.name, spec.task.instruction, key.seed_index,
                               {n: np.stack(f) for n, f in frames.items()},
                               np.asarray(states, np.float32), np.asarray(actions, np.float32),
                               np.asarray(plans, np.float32))
            obs = env.observe() if every == 1 else None
        return None
    finally:
        env.close()


def record(suite: Suite, oracle, out: Path, tasks: Sequence[str], episodes: int, image_size: int,
           progress: Callable[[str], None] = print, start: int = 0,
           every: int = 1) -> dict[str, int]:
    """Record `episodes` successful demos per task into out/<task>/, trying scenes from demo
    index `start` on (to add demos to a folder); returns counts."""
    counts: dict[str, int] = {}
    for task in tasks:
        folder = out / task
        folder.mkdir(parents=True, exist_ok=True)
        done, index, failed = 0, start, 0
        while done < episodes:
            if failed > episodes:
                raise UsageError(f"the oracle failed {failed} demos of {task!r}; check the suite")
            custom = getattr(suite, "demo_case", None)
            key = custom(task, index) if custom else demo_key(suite.name, task, index)
            if key is None:
                progress(f"{task}: the suite has no demo scene {index}; {done} of {episodes} "
                         f"demos recorded")
                break
            episode = record_episode(suite, oracle, key, image_size, noisy=index % 2 == 1,
                                     every=every)
            index += 1
            if episode is None:
                failed += 1
                continue
            episode.save(folder / f"{key.seed_index}.npz")
            done += 1
        counts[task] = done
        progress(f"{task}: {done} demos ({failed} oracle failures skipped)")
    return counts


def iter_episodes(root: Path) -> Iterator[Episode]:
    """Every demo under `root`, in a stable order."""
    files = sorted(root.glob("*/*.npz"))
    if not files:
        raise UsageError(f"no demos under {root}; record them first: wamrobust record --out {root}")
    for path in files:
        yield Episode.load(path)
