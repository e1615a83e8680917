#!/usr/bin/env bash
# Run the LIBERO-Plus tests inside .venv-libero (built by scripts/install_libero_plus.sh).
# Default: the fast selection (-m "not slow"); extra arguments go to pytest, e.g.
#   bash scripts/test_libero_plus.sh -m slow      # the end-to-end rollouts
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LIBERO_VENV:-.venv-libero}
if [[ ! -x $VENV/bin/python ]]; then
    echo "test_libero_plus.sh: $VENV is missing; run: bash scripts/install_libero_plus.sh" >&2
    exit 2
fi
if [[ $# -eq 0 ]]; then
    set -- -m "not slow"
fi
exec "$VENV/bin/python" -m pytest tests/libero_plus -p no:cacheprovider -q "$@"
