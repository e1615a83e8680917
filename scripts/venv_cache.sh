# Sourced by the install scripts of the side environments (.venv-libero, .venv-lerobot).
#
# Each is built once per content under ~/.cache/pytest-wamrobust/venvs/NAME-KEY, where
# KEY hashes everything its build depends on (the install script, pyproject.toml, the
# interpreter, ...), and the project's folder is a link to it: a fresh clone (CI's, every
# run) reuses an identical environment instead of building it again for minutes, and any
# change to what it depends on builds a new one. A venv folder made by hand (not a link)
# is left alone; WAMROBUST_VENV_CACHE= (empty) turns the cache off.
VENV_CACHE=${WAMROBUST_VENV_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/pytest-wamrobust/venvs}

# use_venv_cache VENV NAME KEY_TEXT: sets BUILD_DIR (where to build, an absolute path
# that stays valid across clones) and CACHED=1 when a complete build is already there.
use_venv_cache() {
    local venv=$1 name=$2 key=$3
    CACHED=0
    BUILD_DIR=$venv
    if [[ -z $VENV_CACHE ]] || [[ -e $venv && ! -L $venv ]]; then
        return 0
    fi
    BUILD_DIR=$VENV_CACHE/$name-$(printf '%s' "$key" | sha256sum | cut -c1-16)
    if [[ -f $BUILD_DIR/.complete ]]; then
        CACHED=1
    else
        rm -rf "$BUILD_DIR"  # a build that stopped half-way
    fi
    mkdir -p "$VENV_CACHE"
    ln -sfn "$BUILD_DIR" "$venv"
}

# venv_cache_done: mark the build complete (only then is it reused).
venv_cache_done() {
    if [[ $BUILD_DIR != "${1:-}" ]]; then
        touch "$BUILD_DIR/.complete"
    fi
}
