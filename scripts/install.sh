#!/usr/bin/env bash
# Install pytest-wamrobust with what offscreen rendering needs.
#   scripts/install.sh            (TORCH_INDEX=<url> to pick another torch build)
# 1. Debian packages for headless OpenGL (EGL/OSMesa) and video encoding: installed
#    when we are root or have password-less sudo, otherwise the exact line is printed.
# 2. torch 2.13.0 if no torch is installed yet, from pip's configured index (a CPU
#    build where that index has one) or from TORCH_INDEX.
# 3. this package in editable mode with its dev extras.
# 4. a Vulkan device for SAPIEN (robotwin_plus): scripts/setup_vulkan.sh, which does
#    nothing where a GPU driver is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libegl1 libgl1-mesa-dri libosmesa6 ffmpeg)
TORCH_VERSION=2.13.0
TORCH_INDEX=${TORCH_INDEX:-}
PYTHON=${PYTHON:-python3}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
fi
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "install.sh: missing system packages; run as root:" >&2
        echo "    apt-get install -y ${missing[*]}" >&2
    fi
fi

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    "$PYTHON" -m pip install -q "torch==${TORCH_VERSION}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
"$PYTHON" -m pip install -q -e ".[dev,reports,ray]"

scripts/setup_vulkan.sh || echo "install.sh: SAPIEN rendering is not set up (reason above):" \
    "the robotwin_plus suite needs it, the other suites do not" >&2
