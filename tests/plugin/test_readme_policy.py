"""The README's "Adding a policy" code, run as a user would: its blocks saved as
`mypkg/policies.py`, then `python -m pytest --policy=mypkg.policies:make` on two
tabletop cases. The example cannot rot: a renamed field or a wrong shape fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from junitparser import JUnitXml, Properties

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_policy_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Adding a policy"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def write_package(root: Path, code: str) -> None:
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "policies.py").write_text(code)


def test_readme_blocks_are_the_policy_and_its_declared_args():
    first, second = readme_policy_blocks()
    assert first.startswith("# mypkg/policies.py")
    for read in ("observation.images[", "observation.state", "observation.instruction"):
        assert read in first
    assert "@policy_args.declare(DEPTH)" in second


def test_readme_policy_runs_through_the_plugin(tmp_path):
    first, second = readme_policy_blocks()
    write_package(tmp_path, first + "\n" + second)
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "junit_family=xunit1", f"--junitxml={report}", "--policy=mypkg.policies:make",
         "--policy-arg", "depth=0.08", "--suite=tabletop", "--tasks=lift_cube",
         "--axes=clean,language", "--levels=1", "--seeds=1", "--benchmark-disable",
         "--rootdir", str(tmp_path)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True,
        text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]
    cases = [c for s in JUnitXml.fromfile(str(report)) for c in s
             if c.name.startswith("test_episode[")]
    assert len(cases) == 2
    for case in cases:
        props = {p.name: p.value for p in case.child(Properties)}
        # solved or not, never an error: the chunks had the right shape and range
        assert props["wam.status"] in ("success", "failure"), props.get("wam.error")
        assert props["wam.policy"] == "descend" and int(props["wam.chunks"]) > 1

    # a key the factory does not declare is refused at start-up, in one line
    bad = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--policy=mypkg.policies:make",
         "--policy-arg", "dpth=0.1", "--suite=tabletop", "--rootdir", str(tmp_path)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True,
        text=True, timeout=300, check=False)
    assert bad.returncode == 4
    assert ("policy 'mypkg.policies:make' does not take --policy-arg dpth; it takes: depth; "
            "did you mean 'depth'?") in bad.stderr


def test_readme_policy_alone_acts_in_range():
    """The first block on its own (no declared args): the factory and one infer call."""
    import numpy as np

    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.protocols import PolicyContext
    from pytest_wamrobust.core.model.types import Observation

    namespace: dict = {}
    exec(compile(readme_policy_blocks()[0], "README.md", "exec"), namespace)
    spec = registry.make_suite("tabletop").env_spec
    policy = namespace["make"](PolicyContext(spec))
    policy.reset("lift_cube", 0)
    images = {c.name: np.zeros((c.height, c.width, 3), np.uint8) for c in spec.cameras}
    images["wrist"][..., 0] = 255  # all red: the instruction's colour, so it grasps
    chunk = policy.infer(Observation(images, np.zeros(spec.state_dim), "pick up the red cube"))
    assert chunk.shape == (10, spec.action_dim) and chunk[0, -1] == 1.0 and chunk[0, 2] == 0.0
