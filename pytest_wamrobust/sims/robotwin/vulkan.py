"""Find a Vulkan device for SAPIEN's renderer, or say in one line how to get one.

On a GPU machine the system's ICD is used untouched. On a CPU machine
scripts/setup_vulkan.sh unpacks a newer lavapipe into a private folder; this module
points the Vulkan loader at it (VK_ICD_FILENAMES) before SAPIEN creates its renderer.
It must run before `import sapien` in the rendering process, and never at plugin import.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from pytest_wamrobust.core.model.errors import MissingAssetError

_SYSTEM_ICD_DIRS = ("/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d")
_LOADER_VARS = ("VK_ICD_FILENAMES", "VK_DRIVER_FILES")
SETUP_HINT = (
    "run scripts/setup_vulkan.sh (a CPU lavapipe, no root needed) or install a GPU Vulkan "
    "driver; or pass --suite-arg render=0 for physics-only episodes without images"
)


def private_icd() -> Path:
    """Where scripts/setup_vulkan.sh puts its ICD json (same default, same override)."""
    root = os.environ.get("WAMROBUST_VULKAN_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "pytest-wamrobust", "lavapipe")
    return Path(root) / "lvp_icd.json"


def has_gpu() -> bool:
    """A GPU device node with a Vulkan driver for it.

    ICD files alone prove nothing: Debian's mesa-vulkan-drivers installs Intel and
    Radeon ICDs on machines without either GPU.
    """
    nodes = glob.glob("/dev/nvidiactl") + glob.glob("/dev/dri/renderD*")
    icds = [p for folder in _SYSTEM_ICD_DIRS for p in glob.glob(os.path.join(folder, "*.json"))
            if "lvp" not in os.path.basename(p)]
    return bool(nodes and icds)


def configure() -> str:
    """Point the Vulkan loader at the private lavapipe when nothing better is set.

    Returns which ICD source is in effect ("env", "gpu", "lavapipe" or "none").
    """
    if any(os.environ.get(var) for var in _LOADER_VARS):
        return "env"
    if has_gpu():
        return "gpu"
    icd = private_icd()
    if icd.is_file():
        os.environ["VK_ICD_FILENAMES"] = str(icd)
        return "lavapipe"
    return "none"


_KEEPALIVE: list[Any] = []


def render_system() -> Any:
    """A new SAPIEN render system, or MissingAssetError naming the fix.

    The first one of the process is kept alive: SAPIEN drops its Vulkan context, and
    with it every compiled pipeline (seconds on lavapipe), when the last system dies.
    """
    source = configure()
    import sapien

    try:
        if not _KEEPALIVE:
            _KEEPALIVE.append(sapien.render.RenderSystem())
        return sapien.render.RenderSystem()
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no device"
        raise MissingAssetError(
            f"robotwin_plus: no Vulkan device for SAPIEN rendering ({detail}; ICD: {source}); "
            f"{SETUP_HINT}"
        ) from None
