"""A wheel (what `pip install pytest-wamrobust` gets) holds every module and its data,
not only what an editable install of this checkout can reach."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_package_the_suite_manifests_and_the_weights(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True)
    (wheel,) = tmp_path.glob("pytest_wamrobust-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    source_packages = {p.parent.relative_to(ROOT).as_posix()
                       for p in (ROOT / "pytest_wamrobust").rglob("__init__.py")}
    shipped_packages = {Path(n).parent.as_posix() for n in names if n.endswith("/__init__.py")}
    assert source_packages | {"pytest_wamrobust/suites"} == shipped_packages

    for manifest in (ROOT / "suites").glob("*.toml"):
        assert f"pytest_wamrobust/suites/{manifest.name}" in names
    for weights in (ROOT / "pytest_wamrobust/policies/tiny/weights").iterdir():
        assert f"pytest_wamrobust/policies/tiny/weights/{weights.name}" in names
