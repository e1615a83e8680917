"""Where the episodes play: here, in one isolated worker, in N xdist workers or on Ray
actors; and, when the suite's simulator cannot be imported in this Python, in the
Python that has it (core/running/interpreters.py). The session, its options, the user's
own test files, the table and the JUnit file stay in this process either way."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import Suite
from pytest_wamrobust.core.running import interpreters
from pytest_wamrobust.plugin.options import RunOptions

XDIST_HINT = "install it there: pip install pytest-xdist"
VIDEO_HINT = "install it there: pip install 'pytest-wamrobust[reports]'"
RAY_HINT = "install it there: pip install 'pytest-wamrobust[ray]'"


def simulator_python(suite: Suite, options: RunOptions, rootdir: Path,
                     import_paths: Sequence[str] = ()) -> interpreters.SimulatorPython | None:
    """The checked Python that plays this run's episodes, None for this one: the one
    --wam-sim-python names, else the suite's declared home when its simulator is not
    importable here. A suite that reads the simulator's data files here (its case list)
    is told where they are."""
    home: interpreters.SimulatorHome | None = getattr(suite, "simulator_home", None)
    importable = home is None or interpreters.importable_here(home)
    if importable and not options.sim_python:
        return None
    python, how = interpreters.locate(home, suite.name, options.sim_python, rootdir)
    if python.absolute() == Path(sys.executable).absolute():  # not resolved: a venv's
        return None  # python is a link to its base interpreter's
    needs = [("ray", RAY_HINT)] if options.ray else [("xdist", XDIST_HINT)]
    if options.video not in (None, "none"):
        needs.append(("imageio_ffmpeg", VIDEO_HINT))
    if home is not None:  # its install script installs what the run needs there
        needs = [(module, f"rebuild it with `{home.install}`") for module, _ in needs]
    found = interpreters.check(python, suite.name, home, policy=options.policy or "",
                               also_needs=needs, import_paths=import_paths, how_chosen=how)
    if not importable and hasattr(suite, "simulator_found_at"):
        suite.simulator_found_at(found.module_locations)
    return found


def play_there(config: pytest.Config, run_options: RunOptions,
               simulator: interpreters.SimulatorPython) -> None:
    """Start the xdist workers (one when no -n was given) on the simulator's Python."""
    where = f"the episodes play in {simulator.python}"
    if run_options.ray:  # its actors start on that Python (ray_dispatch.py)
        return
    workers = config.getoption("numprocesses", None)
    if config.option.collectonly and not workers:  # listing cases plays nothing
        return
    if not workers or not importlib.util.find_spec("xdist"):
        raise UsageError(f"{where} (this Python cannot import the suite's simulator), in "
                         f"xdist workers: drop --wam-in-process / -p no:xdist / --pdb, or "
                         f"run pytest with {simulator.python} -m pytest to debug in process")
    config.option.tx = [f"popen//python={simulator.python}"] * len(config.option.tx or [1])
    config.pluginmanager.register(OwnSysPathWorkers(), "wamrobust-own-sys-path-workers")


class OwnSysPathWorkers:
    """Registered when the workers run another Python: they keep its sys.path."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_getremotemodule(self) -> Any:
        from pytest_wamrobust.plugin import worker_bootstrap

        return worker_bootstrap


def placement_lines(simulator: interpreters.SimulatorPython, workers: int | None) -> list[str]:
    """The header line that says where the episodes play and why."""
    if not workers:  # --collect-only: nothing plays
        return []
    count = "one isolated worker" if workers == 1 else f"{workers} xdist workers"
    return [f"wamrobust: episodes play in {count} on {simulator.python} (found by "
            f"{simulator.how_chosen}): the suite's simulator cannot be imported by this "
            f"Python, or --wam-sim-python asked"]
