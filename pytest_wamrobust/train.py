"""`python -m pytest_wamrobust.train tiny-vla [options]`: the same as `wamrobust train`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
