"""`--wam-ray` on a real Ray runtime: the same outcome per case as `-n 2`, every case
recorded when actors, nodes or the whole cluster die, bad input in one line.

The cluster tests start real `ray start` processes (a head and a second node with its
own CPU) in a temporary directory of their own, and stop only those."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_wamrobust.distributed.local_cluster import LocalCluster

pytest.importorskip("ray", reason="pip install 'pytest-wamrobust[ray]'")


HERE = Path(__file__).parents[1]  # faulty_policies.py, beside conftest.py
MATRIX = ("--suite=tabletop", "--policy=tiny-vla", "--tasks=lift_cube,cube_on_plate",
          "--axes=clean,camera", "--levels=1", "--seeds=2")


@pytest.fixture
def tests_importable(monkeypatch):
    """The faulty test policies importable by the session and by Ray's workers."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")])))


def outcomes(episodes: dict[str, dict[str, str]]) -> dict[str, tuple[str, str]]:
    return {name: (p["wam.status"], p["wam.steps"]) for name, p in episodes.items()}


@pytest.mark.slow  # three full runs and two Ray runtimes (~100 s of CPU); the fast selection
# keeps the actor replacement and option tests, and the LIBERO one plays a case on an actor
def test_ray_gives_each_case_the_outcome_xdist_gives(run_plugin, junit_episodes, pytester):
    """Per-actor policies, and one shared batched policy (--wam-ray-policy=shared: its
    batched rows equal solo calls): the same outcome per case as `-n 2`."""
    small = (*MATRIX, "--seeds=1")  # 4 cases
    xdist = run_plugin(*small, "-n", "2", junit="xdist.xml", timeout=300)
    ray = run_plugin(*small, "--wam-ray", junit="ray.xml", timeout=300)
    shared = run_plugin(*small, "--wam-ray", "--wam-ray-policy=shared", "-k", "test_episode",
                        "--wam-video=all", junit="shared.xml", timeout=300)
    by_xdist = junit_episodes(pytester.path / "xdist.xml")
    by_ray = junit_episodes(pytester.path / "ray.xml")
    by_shared = junit_episodes(pytester.path / "shared.xml")
    assert len(by_xdist) == 4
    assert outcomes(by_ray) == outcomes(by_xdist) == outcomes(by_shared)
    assert ray.ret == xdist.ret == shared.ret
    assert all(p["wam.ray_actor"] for p in by_ray.values())
    assert len({p["wam.ray_policy_host"] for p in by_shared.values()}) == 1
    # videos are recorded on the actor's node and written here, where -n 2 would put them
    assert all((pytester.path / p["wam.video"]).stat().st_size > 0 for p in by_shared.values())
    ray.stdout.fnmatch_lines(["wamrobust: Ray: a local Ray runtime, 1 node(s), * CPUs, 1 CPU(s) "
                              "per actor"])
    shared.stdout.fnmatch_lines(["wamrobust: Ray: *one shared batched policy on 1 CPU(s)"])
    table = [line for line in ray.outlines if line.startswith(("clean ", "camera "))]
    assert table == [line for line in xdist.outlines if line.startswith(("clean ", "camera "))]


def test_an_actor_that_dies_is_replaced_and_its_case_retried_once(
        run_plugin, junit_episodes, pytester, tests_importable):
    """lift_cube's policy kills its process in every episode: each such case is played
    twice, on two actors, then recorded as a worker crash; the other task runs. (The
    latency case would crash the session itself, which plays it here: left out.)"""
    result = run_plugin("--suite=tabletop", "--policy=faulty_policies:faulty",
                        "--policy-arg=lift_cube=crash", "--tasks=lift_cube,cube_on_plate",
                        "--axes=clean", "--seeds=1", "--wam-ray", "-k", "test_episode",
                        timeout=300)
    episodes = junit_episodes(pytester.path / "report.xml")
    crashed = {n: p for n, p in episodes.items() if "lift_cube" in n}
    healthy = {n: p for n, p in episodes.items() if "cube_on_plate" in n}
    assert len(crashed) == 3 and len(healthy) == 3  # clean: seeds x levels cases
    for props in crashed.values():
        assert props["wam.status"] == "error" and props["wam.error_kind"] == "worker_crash"
        assert props["wam.error"].startswith("its Ray actor died twice")
        assert props["wam.episode_seed"]
    assert all(p["wam.status"] == "success" for p in healthy.values())
    assert result.ret == 1


@pytest.mark.parametrize("args, message", [
    (("--wam-ray", "-n", "2"), "--wam-ray and -n both spread the episodes over processes"),
    (("--wam-ray", "tests/"), "a path after a bare --wam-ray is read as its address"),
    (("--wam-ray-cpus=0",), "--wam-ray-cpus takes a number of CPUs per actor above 0"),
    (("--wam-ray-policy=shared",), "add --wam-ray"),
    pytest.param(("--wam-ray", "--wam-ray-policy=shared"),
                 "--wam-ray-policy=shared needs a policy with infer_batch",
                 marks=pytest.mark.slow),  # it starts a Ray runtime (~40 s) to say it
])
def test_bad_ray_options_are_one_line(run_plugin, args, message):
    result = run_plugin("--suite=tabletop", "--policy=scripted", *args, junit=None)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


@pytest.fixture
def cluster(tmp_path_factory):
    made: list[LocalCluster] = []

    def start(second_node: bool = True) -> LocalCluster:
        made.append(LocalCluster(tmp_path_factory.mktemp("ray")).start(second_node))
        return made[-1]

    yield start
    for each in made:
        each.stop()


def run_until(args: list[str], cwd: Path, env: dict[str, str], after_results: int,
              then) -> tuple[int, str]:
    """Run pytest, call `then()` once `after_results` cases have reported, wait for it."""
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                                "-v", *args], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    seen, lines, done = 0, [], False
    for line in process.stdout:
        lines.append(line)
        if "test_episode[" in line and ("PASSED" in line or "FAILED" in line):
            seen += 1
            if seen == after_results and not done:
                then()
                done = True
    return process.wait(timeout=600), "".join(lines)


@pytest.mark.slow
def test_two_node_cluster_losing_a_node_loses_no_case(cluster, tmp_path, junit_episodes,
                                                       run_plugin, pytester):
    reference = run_plugin(*MATRIX, "--seeds=4", "-n", "2", junit="xdist.xml", timeout=300)
    ray = cluster(second_node=True)
    code, out = run_until([*MATRIX, "--seeds=4", f"--wam-ray={ray.address}",
                           "--junitxml=ray.xml", "-o", "junit_family=xunit1"],
                          pytester.path, ray.env, after_results=3, then=ray.kill_second_node)
    by_ray = junit_episodes(pytester.path / "ray.xml")
    assert outcomes(by_ray) == outcomes(junit_episodes(pytester.path / "xdist.xml")), out
    assert code == reference.ret
    assert "2 node(s), 2 CPUs" in out
    assert len({p["wam.ray_actor"].split(" pid ")[0] for p in by_ray.values()}) == 2


@pytest.mark.slow
def test_a_ray_client_address_plays_each_case_as_xdist_does(cluster, run_plugin,
                                                            junit_episodes, pytester):
    """--wam-ray=ray://HOST:PORT: the session outside the cluster, through Ray Client."""
    small = (*MATRIX, "--seeds=1")  # 4 cases
    reference = run_plugin(*small, "-n", "2", junit="xdist.xml", timeout=300)
    ray = cluster(second_node=False)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *small,
         f"--wam-ray={ray.client_address}", "--junitxml=client.xml", "-o",
         "junit_family=xunit1"],
        cwd=pytester.path, env=ray.env, capture_output=True, text=True, timeout=600)
    by_client = junit_episodes(pytester.path / "client.xml")
    assert outcomes(by_client) == outcomes(junit_episodes(pytester.path / "xdist.xml")), (
        done.stdout[-3000:] + done.stderr[-2000:])
    assert done.returncode == reference.ret
    assert f"wamrobust: Ray: {ray.client_address}, 1 node(s)" in done.stdout


@pytest.mark.slow
def test_losing_the_cluster_errors_every_outstanding_case_and_ends_the_run(
        cluster, junit_episodes, pytester):
    ray = cluster(second_node=False)
    started = time.monotonic()
    code, out = run_until([*MATRIX, "--seeds=4", f"--wam-ray={ray.address}",
                           "--junitxml=ray.xml", "-o", "junit_family=xunit1"],
                          pytester.path, ray.env, after_results=2, then=ray.stop)
    episodes = junit_episodes(pytester.path / "ray.xml")
    assert len(episodes) == 16, out
    lost = [p for p in episodes.values() if p["wam.status"] == "error"]
    assert lost and all(p["wam.error_kind"] == "worker_crash" and
                        p["wam.error"].startswith("the Ray driver process ended") for p in lost)
    assert code == 1
    assert time.monotonic() - started < 300
    assert "wamrobust verdict:" in out


@pytest.mark.slow
def test_actors_on_a_cluster_get_the_sessions_policy_server_key(cluster, tmp_path, pytester):
    """A cluster started without the key: the actors still reach a key-protected server,
    because the session's WAMROBUST_* settings travel with them (as to xdist workers)."""
    ray = cluster(second_node=False)
    server = subprocess.Popen([sys.executable, "-m", "pytest_wamrobust", "serve", "--port=0",
                               "--policy=scripted", "--suite=tabletop", "--api-key=sekrit"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" on ")[1].split()[0]
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--suite=tabletop",
             f"--policy={url}", "--tasks=lift_cube", "--axes=clean", "--seeds=1",
             f"--wam-ray={ray.address}", "-k", "test_episode"],
            cwd=pytester.path, env={**ray.env, "WAMROBUST_POLICY_API_KEY": "sekrit"},
            capture_output=True, text=True, timeout=300)
    finally:
        server.kill()
        server.wait(10)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 passed" in done.stdout
