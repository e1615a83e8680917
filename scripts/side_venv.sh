#!/usr/bin/env bash
# Make a side virtual environment (e.g. .venv-lerobot) that sees exactly the environment
# of $PYTHON - the interpreter that ran scripts/install.sh, be it a venv, a conda env or
# the system - and nothing of the base interpreter behind a venv.
#   PYTHON=python3 scripts/side_venv.sh DIR
# `venv --system-site-packages` would expose the *base* interpreter's site-packages
# (from inside a venv: not where install.sh put torch, junitparser and this package).
# Instead the side venv gets a .pth file that adds each of $PYTHON's site directories
# with site.addsitedir, after its own: its own packages win, and the main environment's
# .pth files (editable installs) are processed too.
set -euo pipefail
DIR=${1:?usage: scripts/side_venv.sh DIR}
PYTHON=${PYTHON:-python3}

[[ -x $DIR/bin/python ]] || "$PYTHON" -m venv "$DIR"
# One made by an older install with --system-site-packages: it must not see the base.
sed -i 's/^include-system-site-packages = true$/include-system-site-packages = false/' "$DIR/pyvenv.cfg"
# site.getsitepackages() is the environment: a venv's own directory, plus the base's only
# when that venv was made with --system-site-packages.
MAIN_SITES=$("$PYTHON" -c 'import site; print(repr(site.getsitepackages()))')
SIDE_SITE=$("$DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; list(map(site.addsitedir, $MAIN_SITES))" > "$SIDE_SITE/_wamrobust_main_env.pth"
