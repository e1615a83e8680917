"""A real `module:callable` suite that misbehaves on chosen tasks, for the reliability
tests: the MuJoCo tabletop suite, whose scene fails where `$WAMROBUST_SUITE_FAULTS`
says (`lift_cube=step,cube_on_plate=build`: task -> build | step | success | observe |
unavailable, the last a case whose asset is not installed, which is skipped).
An environment variable, not an option, because a suite factory takes no arguments and
xdist workers inherit the environment.
"""

from __future__ import annotations

import os

from pytest_wamrobust.core.model.errors import CaseUnavailableError
from pytest_wamrobust.sims.tabletop.suite import TabletopSuite, make_suite

FAULTS_ENV = "WAMROBUST_SUITE_FAULTS"
#: Actions before a `step` / `success` / `observe` fault fires: inside the episode.
FAULT_AFTER_STEPS = 12


class FaultyEnv:
    def __init__(self, inner, fault: str) -> None:
        self._inner, self._fault, self._steps = inner, fault, 0
        self.spec = inner.spec

    def reset(self):
        return self._inner.reset()

    def step(self, action) -> None:
        self._steps += 1
        if self._fault == "step" and self._steps > FAULT_AFTER_STEPS:
            raise FloatingPointError("mj_step: simulation unstable (QACC nan)")
        self._inner.step(action)

    def observe(self):
        if self._fault == "observe" and self._steps > FAULT_AFTER_STEPS:
            raise RuntimeError("renderer lost its EGL context")
        return self._inner.observe()

    def success(self) -> bool:
        if self._fault == "success" and self._steps > FAULT_AFTER_STEPS:
            raise KeyError("object 'cube' not in the scene")
        return self._inner.success()

    def close(self) -> None:
        self._inner.close()


class FaultySuite(TabletopSuite):
    def make_env(self, spec):
        fault = _faults().get(spec.task.name, "")
        if fault == "build":
            raise FileNotFoundError("assets/cube.xml")
        if fault == "unavailable":
            raise CaseUnavailableError(f"{spec.task.name}: its table texture is not installed "
                                       f"(pip install tabletop-textures)")
        env = super().make_env(spec)
        return FaultyEnv(env, fault) if fault else env


def _faults() -> dict[str, str]:
    pairs = (part.partition("=") for part in os.environ.get(FAULTS_ENV, "").split(",") if part)
    return {task: fault for task, _, fault in pairs}


def faulty_tabletop() -> FaultySuite:
    return FaultySuite(make_suite().manifest)
