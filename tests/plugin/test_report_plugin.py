"""The user's story end to end: real pytest runs of the tabletop suite write JUnit, and
`wamrobust report` merges them into the table one run would give."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from pytest_wamrobust.cli import main
from pytest_wamrobust.records.junit import read_results

CASES = ["--suite=tabletop", "--policy=random", "--tasks=lift_cube", "--levels=3"]


def pytest_run(tmp_path, name, *args):
    xml = tmp_path / f"{name}.xml"
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *CASES, *args, "-p", "no:cacheprovider", "-q",
         "-o", "junit_family=xunit1", f"--junitxml={xml}", "-k", "test_episode"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return xml, proc.stdout


def test_runs_split_by_axes_merge_into_the_table_of_one_run(tmp_path, capsys):
    whole, terminal = pytest_run(tmp_path, "whole")
    half1, _ = pytest_run(tmp_path, "half1", "--axes=clean,camera,robot_init,language")
    half2, _ = pytest_run(tmp_path, "half2", "--axes=light,background,noise,layout")
    results = read_results([whole])
    assert len(results) == 8 and {r.policy for r in results} == {"random"}
    assert all(r.chunk_latencies_ms and r.episode_seed for r in results)

    def success_tables(*files):
        assert main(["report", *map(str, files)]) == 0
        # latencies are measured anew by every run; the success tables are deterministic
        return capsys.readouterr().out.split("### Inference latency")[0]

    one_run = success_tables(whole)
    assert success_tables(half1, half2) == one_run
    # the plugin's own terminal table counts the same episodes
    assert re.search(r"^overall +7 +0 ", terminal, re.MULTILINE)
    assert "| random | 0.0   | 0.0" in one_run and "| 8 |" in one_run


@pytest.mark.parametrize("content", ["<testsuites/>"])
def test_report_of_a_run_without_episodes_is_one_line(tmp_path, capsys, content):
    xml = tmp_path / "other.xml"
    xml.write_text(content)
    assert main(["report", str(xml)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_pytest_benchmark_json_of_the_latency_case(tmp_path, capsys):
    """pytest-benchmark times the policy in a -n 0 run; its row joins the episodes' one."""
    xml, _ = pytest_run(tmp_path, "run", "--axes=clean")
    bench = tmp_path / "bench.json"
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    subprocess.run([sys.executable, "-m", "pytest", *CASES, "-k", "test_latency", "-p",
                    "no:cacheprovider", "-q", "--benchmark-max-time=0.05",
                    f"--benchmark-json={bench}"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    median_ms = json.loads(bench.read_text())["benchmarks"][0]["stats"]["median"] * 1000
    assert main(["report", str(xml), "--benchmark-json", str(bench)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| random ")]
    sources = [line.split("|")[2].strip() for line in rows]
    assert sources[-2:] == ["episodes", "pytest-benchmark (test_latency[random])"]
    assert float(rows[-1].split("|")[4]) == pytest.approx(median_ms, rel=0.01, abs=0.0005)
