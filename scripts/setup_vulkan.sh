#!/usr/bin/env bash
# Give SAPIEN a Vulkan device on a CPU-only machine, without touching the system GL stack.
#
# Debian 12's lavapipe (Mesa 22.3) lacks VK_KHR_external_semaphore_fd, which SAPIEN's
# renderer needs. This downloads Mesa >= 24.3's lavapipe (mesa-vulkan-drivers; the
# libraries it links, LLVM 15 included, are Debian 12's own) from bookworm-backports with a private apt sources list, unpacks the .debs into a private
# folder and writes an ICD json pointing at the unpacked driver. The robotwin_plus suite
# finds that json by itself (pytest_wamrobust/sims/robotwin/vulkan.py) when no GPU driver
# is installed. Idempotent: a second run with the folder in place does nothing.
#
#   scripts/setup_vulkan.sh            # install into the default folder
#   WAMROBUST_VULKAN_DIR=/opt/lvp scripts/setup_vulkan.sh
#
# On a machine with a GPU Vulkan driver (/usr/share/vulkan/icd.d/nvidia_icd.json ...)
# it does nothing: SAPIEN uses the real driver.
set -euo pipefail

DEST="${WAMROBUST_VULKAN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pytest-wamrobust/lavapipe}"
ICD="$DEST/lvp_icd.json"
SUITE="${WAMROBUST_VULKAN_SUITE:-bookworm-backports}"
MIRROR="${WAMROBUST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { echo "setup_vulkan: $*" >&2; }

# A GPU needs its device node: ICD files alone prove nothing (Debian's
# mesa-vulkan-drivers installs Intel and Radeon ICDs on machines without either).
if compgen -G "/dev/nvidiactl" >/dev/null || compgen -G "/dev/dri/renderD*" >/dev/null; then
    for icd in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do
        if [[ -e "$icd" ]] && ! grep -q lvp "$icd"; then
            log "GPU and its Vulkan driver found ($icd); nothing to do"
            exit 0
        fi
    done
fi

if [[ -f "$ICD" ]] && grep -q "\"$DEST/" "$ICD"; then
    log "lavapipe already set up: $ICD"
    exit 0
fi

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    log "needs apt-get and dpkg-deb (Debian/Ubuntu); otherwise install Mesa >= 24.3's" \
        "lavapipe (mesa-vulkan-drivers) and export VK_ICD_FILENAMES=<its lvp_icd json>"
    exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs"
echo "deb $MIRROR $SUITE main" > "$WORK/sources.list"
APT_OPTS=(
    -o "Dir::Etc::SourceList=$WORK/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$WORK/lists"
    -o "Dir::Cache=$WORK/cache"
    -o "APT::Default-Release=$SUITE"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
)
log "downloading mesa-vulkan-drivers from $SUITE"
apt-get "${APT_OPTS[@]}" -qq update
(cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" -qq download "mesa-vulkan-drivers/$SUITE")

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp"
for deb in "$WORK"/debs/*.deb; do
    dpkg-deb -x "$deb" "$DEST.tmp"
done
LIBDIR="$(dirname "$(find "$DEST.tmp" -name 'libvulkan_lvp.so' | head -n1)")"
SRC_JSON="$(find "$DEST.tmp" -name 'lvp_icd*.json' | head -n1)"
if [[ -z "$SRC_JSON" || "$LIBDIR" == "." ]]; then
    log "the downloaded packages contain no lavapipe driver"
    exit 1
fi
LIBDIR="${LIBDIR/#$DEST.tmp/$DEST}"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
SRC_JSON="${SRC_JSON/#$DEST.tmp/$DEST}"
# The packaged json names the system path; point it at the unpacked driver.
python3 - "$SRC_JSON" "$ICD" "$LIBDIR" <<'EOF'
import json, sys
src, dst, libdir = sys.argv[1:]
data = json.load(open(src))
data["ICD"]["library_path"] = f"{libdir}/libvulkan_lvp.so"
json.dump(data, open(dst, "w"), indent=2)
EOF
log "lavapipe installed: $ICD"
