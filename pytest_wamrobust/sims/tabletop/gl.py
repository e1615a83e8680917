"""Import MuJoCo with a working offscreen OpenGL backend.

MuJoCo reads MUJOCO_GL once, at import, so the choice has to be made before the first
`import mujoco` in the process: the user's setting wins; otherwise EGL (software
llvmpipe works), else OSMesa, whichever library this machine has.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from types import ModuleType
from typing import Any

from pytest_wamrobust.core.model.errors import MissingAssetError, one_line

APT_HINT = "apt-get install libegl1 libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa)"


def _choose_backend() -> str | None:
    if ctypes.util.find_library("EGL"):
        return "egl"
    if ctypes.util.find_library("OSMesa"):
        return "osmesa"
    return None


def import_mujoco() -> ModuleType:
    """`mujoco`, with MUJOCO_GL (and PyOpenGL's platform) chosen if the user did not."""
    if "mujoco" not in sys.modules and not os.environ.get("MUJOCO_GL"):
        backend = _choose_backend()
        if backend:
            os.environ["MUJOCO_GL"] = backend
            os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    try:
        import mujoco
    except Exception as exc:  # noqa: BLE001 - MuJoCo sets up GL at import
        raise _no_gl(exc) from None
    return mujoco


def make_renderer(mujoco: ModuleType, model: Any, size: int) -> Any:
    """A `mujoco.Renderer`, or one line saying which system packages are missing."""
    try:
        return mujoco.Renderer(model, height=size, width=size)
    except Exception as exc:  # noqa: BLE001 - every GL failure means the same fix
        raise _no_gl(exc) from None


def _no_gl(exc: Exception) -> MissingAssetError:
    backend = os.environ.get("MUJOCO_GL", "unset")
    return MissingAssetError(
        f"no offscreen OpenGL for MuJoCo (MUJOCO_GL={backend}: {one_line(exc)}); "
        f"{APT_HINT}, or set MUJOCO_GL=egl|osmesa"
    )
