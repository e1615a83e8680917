"""`python -m pytest_wamrobust`: the `wamrobust` command, for the interpreter you name
(a virtualenv's pytest-wamrobust, not the first `wamrobust` on PATH)."""

import sys

from pytest_wamrobust.cli import main

sys.exit(main())
