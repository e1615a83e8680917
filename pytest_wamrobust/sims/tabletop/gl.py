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

from ...core.errors import MissingAssetError

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
    import mujoco

    return mujoco


def make_renderer(mujoco: ModuleType, model, size: int):
    """A `mujoco.Renderer`, or one line saying which system packages are missing."""
    try:
        return mujoco.Renderer(model, height=size, width=size)
    except Exception as exc:  # noqa: BLE001 - every GL failure means the same fix
        backend = os.environ.get("MUJOCO_GL", "unset")
        raise MissingAssetError(
            f"no offscreen OpenGL for MuJoCo (MUJOCO_GL={backend}: {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); {APT_HINT}, "
            f"or set MUJOCO_GL=egl|osmesa"
        ) from None
