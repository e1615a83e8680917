#!/usr/bin/env bash
# Build .venv-lerobot/: LeRobot 0.4.4 beside this package, for --policy=lerobot:/path.
#   scripts/install_lerobot.sh          (VENV=<dir> to put it elsewhere)
# LeRobot 0.4.4 (the last release for Python 3.11) pins torch<2.11; we keep the main
# environment's torch 2.13.0 (CPU) instead: the venv sees the main environment (the one
# that ran scripts/install.sh, venv or not; scripts/side_venv.sh) and LeRobot itself goes
# in with --no-deps plus the dependencies its policies import.
# No CPU torchvision wheel matches torch 2.13 on PyPI; the CUDA one's compiled ops do not
# load, so a startup hook declares the one op schema torchvision's Python registers a
# fake for (nms). ACT and diffusion use only torchvision's Python models (resnet).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-lerobot}
PYTHON=${PYTHON:-python3}

source scripts/venv_cache.sh
# the main environment's packages decide what pip adds here, so they are in the key
use_venv_cache "$VENV" lerobot "$(cat scripts/install_lerobot.sh scripts/side_venv.sh \
    scripts/venv_cache.sh; "$PYTHON" -m pip freeze --exclude-editable)"
# (again on a cached build: it sees the environment that runs this script)
PYTHON=$PYTHON scripts/side_venv.sh "$BUILD_DIR"
if [[ $CACHED != 1 ]]; then
    PIP=("$BUILD_DIR/bin/pip" install -q)
    "${PIP[@]}" --no-deps "lerobot==0.4.4" "torchvision==0.25.0" "draccus==0.10.0" \
        mergedeep typing-inspect mypy-extensions
    "${PIP[@]}" "datasets>=4.0.0,<5.0.0" "huggingface-hub<0.36.0,>=0.34.2" "einops<0.9.0,>=0.8.0" \
        "opencv-python-headless<4.13.0,>=4.9.0" "termcolor<4,>=2.4" "deepdiff<9,>=7.0.1" \
        "gymnasium<2,>=1.1.1" jsonlines "packaging<26,>=24.2" "accelerate<2,>=1.10" \
        "diffusers>=0.27.2,<0.36.0" "pyserial<4,>=3.5" "av<16,>=15" "imageio[ffmpeg]<3,>=2.34"

    SITE=$("$BUILD_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    if ! "$BUILD_DIR/bin/python" -c 'import torchvision' 2>/dev/null; then
        cat > "$SITE/_wamrobust_torchvision_ops.py" <<'PY'
"""Declare torchvision::nms before torchvision imports when its compiled ops cannot load."""
import importlib.abc
import sys


class _DeclareOps(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path.remove(self)
            import torch

            torch.library.define(
                "torchvision::nms", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        return None


sys.meta_path.insert(0, _DeclareOps())
PY
        echo "import _wamrobust_torchvision_ops" > "$SITE/_wamrobust_torchvision_ops.pth"
    fi
    venv_cache_done "$VENV"
fi
"$VENV/bin/python" -c 'import lerobot.policies.act.modeling_act, pytest_wamrobust' \
    && echo "install_lerobot.sh: ready: $VENV/bin/python -m pytest --policy=lerobot:/path/to/pretrained_model ..."
