"""The real LIBERO-Plus benchmark under `--wam-ray`: run from `.venv-libero` (Ray is in
its extras), a Ray actor plays a real LIBERO episode and the session reports it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from junitparser import JUnitXml, Properties

pytest.importorskip("ray", reason="pip install 'pytest-wamrobust[ray]'")

TASK = "pick_up_the_black_bowl_from_table_center_and_place_it_on_the_plate"


def test_the_oracle_solves_a_libero_task_on_a_ray_actor(suite, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--suite=libero_plus",
         "--policy=scripted", "--tasks=libero_spatial", "--axes=clean", "--seeds=1",
         "--wam-ray", "-k", f"test_episode and {TASK}", "--junitxml=ray.xml",
         "-o", "junit_family=xunit1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (case,) = [c for s in JUnitXml.fromfile(str(tmp_path / "ray.xml")) for c in s
               if c.name.startswith("test_episode[")]
    props = {p.name: p.value for p in case.child(Properties)}
    assert TASK in case.name
    assert props["wam.status"] == "success" and props["wam.ray_actor"]
