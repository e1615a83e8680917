"""Side environments (.venv-lerobot) see exactly the environment that ran
scripts/install.sh, whether that is a venv or the system interpreter, and never the base
interpreter behind a venv: there they would import another torch, and miss junitparser
and this package (issue 27)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEROBOT_PYTHON = ROOT / ".venv-lerobot" / "bin" / "python"

#: Where each module resolves, and which site directories the interpreter searches.
PROBE = """
import importlib.util, json, sys
print(json.dumps({"modules": {name: (importlib.util.find_spec(name).origin
                                     if importlib.util.find_spec(name) else None)
                              for name in sys.argv[1:]},
                  "sites": [p for p in sys.path if p.endswith("site-packages")]}))
"""


def probe(python: Path | str, *modules: str) -> dict:
    out = subprocess.run([str(python), "-c", PROBE, *modules], check=True,
                         capture_output=True, text=True, cwd="/").stdout
    return json.loads(out)


def test_a_side_venv_of_a_venv_sees_that_venv_and_not_its_base(tmp_path):
    main = tmp_path / "main"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(main)], check=True)
    main_site = Path(probe(main / "bin" / "python")["sites"][0])
    (main_site / "probe_in_main.py").write_text("")
    editable = tmp_path / "editable_src"  # how `pip install -e` exposes a package: a .pth
    editable.mkdir()
    (editable / "probe_editable.py").write_text("")
    (main_site / "probe_editable.pth").write_text(f"{editable}\n")

    side = tmp_path / "side"
    subprocess.run(["bash", str(ROOT / "scripts" / "side_venv.sh"), str(side)], check=True,
                   env={"PATH": "/usr/bin:/bin", "PYTHON": str(main / "bin" / "python")})
    seen = probe(side / "bin" / "python", "probe_in_main", "probe_editable")

    assert seen["modules"]["probe_in_main"] == str(main_site / "probe_in_main.py")
    assert seen["modules"]["probe_editable"] == str(editable / "probe_editable.py")
    side_site = probe(side / "bin" / "python")["sites"][0]
    base_site = sysconfig.get_paths(vars={"base": sys.base_prefix,
                                          "platbase": sys.base_prefix})["purelib"]
    assert seen["sites"] == [side_site, str(main_site)]
    assert base_site not in seen["sites"]


@pytest.mark.skipif(not LEROBOT_PYTHON.exists(),
                    reason="no .venv-lerobot here: bash scripts/install_lerobot.sh builds it")
def test_lerobot_venv_imports_the_main_environments_torch_junitparser_and_plugin():
    modules = ("torch", "junitparser", "pytest_wamrobust")
    ours = probe(sys.executable, *modules)["modules"]
    theirs = probe(LEROBOT_PYTHON, *modules)["modules"]
    assert theirs == ours
    version = "import torch; print(torch.__version__)"
    assert (subprocess.run([str(LEROBOT_PYTHON), "-c", version], capture_output=True,
                           text=True, check=True).stdout
            == subprocess.run([sys.executable, "-c", version], capture_output=True, text=True,
                              check=True).stdout)
