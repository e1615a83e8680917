"""A user hosts a policy with `wamrobust serve` and points pytest workers at it:
two xdist workers share one server, the server's timings land in the JUnit file, and a
server killed mid-run turns the remaining cases into errors while the run completes."""

from __future__ import annotations

import signal

import pytest
from junitparser import Error, JUnitXml
from policy_servers import wamrobust_serve

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.identity import policy_fingerprint
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.policies.openpi.client import WAMROBUST_METADATA
from pytest_wamrobust.policies.openpi.connection import Connection

SELECT = ("--suite=tabletop", "--tasks=lift_cube", "--levels=2", "--seeds=1")


@pytest.fixture
def served_oracle():
    with wamrobust_serve("--policy=scripted", "--suite=tabletop") as served:
        yield served


def test_two_workers_share_one_served_oracle(pytester, run_plugin, junit_episodes, served_oracle):
    url, _ = served_oracle
    result = run_plugin(f"--policy={url}", *SELECT, "--axes=clean,camera", "-n", "2")
    result.assert_outcomes(passed=2, skipped=1)  # latency case skipped under xdist
    result.stdout.fnmatch_lines(["*clean * 1 * 1 * 0 * 100.0%*"])
    for props in junit_episodes(pytester.path / "report.xml").values():
        assert props["wam.status"] == "success" and props["wam.policy"] == "scripted"
        assert float(props["wam.server_infer_p50_ms"]) > 0
        assert float(props["wam.latency_p50_ms"]) >= float(props["wam.server_infer_p50_ms"])


def test_server_killed_mid_run_errors_the_rest_and_the_run_completes(
        pytester, run_plugin, junit_episodes, served_oracle):
    url, proc = served_oracle
    # a -p plugin, not a conftest: conftest hooks only see items under its folder
    pytester.makepyfile(killer=f"""
        import os, signal
        def pytest_runtest_logreport(report):
            if report.when == "teardown" and "test_episode" in report.nodeid:
                try:
                    os.kill({proc.pid}, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    """)
    result = run_plugin(f"--policy={url}", *SELECT, "--axes=clean,camera,noise",
                        "-p", "no:xdist", "-p", "killer")
    assert result.ret == 1
    found = junit_episodes(pytester.path / "report.xml")
    assert len(found) == 3
    cases = {c.name: c for s in JUnitXml.fromfile(str(pytester.path / "report.xml")) for c in s}
    ordered = sorted(found, key=lambda n: ("clean" not in n, n))
    assert found[ordered[0]]["wam.status"] == "success"
    for name in ordered[1:]:
        case, props = cases[name], found[name]
        assert props["wam.status"] == "error", props
        assert props["wam.error"].startswith(f"policy server {url} ")
        assert isinstance(case.result[0], Error)
    result.stdout.fnmatch_lines(["clean * 1 * 1 * 0 * 100.0%*", "*overall * 2 * 0 * 2 *"])
    assert proc.wait(10) == -signal.SIGKILL


def test_replan_steps_is_applied_by_the_client_or_refused_before_any_episode(
        pytester, run_plugin, junit_episodes, served_oracle):
    """The server sends its oracle's chunks; `replan_steps=1` runs one action of each and
    asks again (a policy call per step), and one the chunk cannot serve stops the run."""
    url, _ = served_oracle
    result = run_plugin(f"--policy={url}", *SELECT, "--axes=clean", "-p", "no:xdist",
                        "--policy-arg", "replan_steps=1", "-k", "test_episode")
    result.stdout.fnmatch_lines(["wamrobust: policy calls: chunk_length * (server), "
                                 "replan_steps 1 (--policy-arg)"])
    (props,) = junit_episodes(pytester.path / "report.xml").values()
    assert props["wam.status"] == "success" and props["wam.replan_steps"] == "1"
    assert int(props["wam.chunks"]) == int(props["wam.steps"]) > 1
    refused = run_plugin(f"--policy={url}", *SELECT, "--policy-arg", "replan_steps=10000",
                         junit=None)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in refused.stderr.lines if line.strip()]
    assert line.startswith(f"ERROR: --policy-arg replan_steps=10000 cannot apply: the policy "
                           f"server at {url} sends ")
    assert "`wamrobust serve ... --policy-arg chunk_length=10000" in line
    assert "test_episode" not in refused.stdout.str()


def test_the_served_policy_names_its_latency_case_and_report_row(
        pytester, run_plugin, junit_episodes, served_oracle, capsys):
    """`--policy=ws://127.0.0.1:PORT`: the latency case is `test_latency[scripted]`, the
    served policy's own name, the same on xdist workers and alone, and the report's
    latency rows sit beside the episodes' under that name (not under the port)."""
    url, _ = served_oracle
    host_port = url.removeprefix("ws://").replace(":", "_")
    listed = run_plugin(f"--policy={url}", *SELECT, "--axes=clean", "--collect-only", "-q")
    listed.stdout.fnmatch_lines([f"wamrobust::test_latency[[]{host_port}[]]"])  # no server asked

    alone = run_plugin(f"--policy={url}", *SELECT, "--axes=clean", "-p", "no:xdist",
                       "--benchmark-json=latency.json", junit="alone.xml")
    alone.assert_outcomes(passed=2)
    alone.stdout.no_fnmatch_line(f"*{host_port}*")
    workers = run_plugin(f"--policy={url}", *SELECT, "--axes=clean", "-n", "2",
                         junit="workers.xml")
    workers.assert_outcomes(passed=1, skipped=1)
    for junit in ("alone.xml", "workers.xml"):
        names = [case.name for suite in JUnitXml.fromfile(str(pytester.path / junit))
                 for case in suite]
        assert [n for n in names if n.startswith("test_latency")] == ["test_latency[scripted]"]

    code = main(["report", str(pytester.path / "alone.xml"),
                 "--benchmark-json", str(pytester.path / "latency.json")])
    out = capsys.readouterr().out
    table = out[out.index("Inference latency"):].split("\n\n")[1].splitlines()[2:]
    assert code == 0 and [row.split("|")[1].strip() for row in table] == ["scripted"] * 2, out


def test_wamrobust_serve_sends_the_fingerprint_of_the_weights_it_serves():
    """What `--wam-resume` compares for a served policy includes its weights' digest."""
    with wamrobust_serve("--policy=tiny-vla", "--suite=tabletop") as (url, _):
        connection = Connection(url, connect_timeout=10)
        metadata = connection.open()[WAMROBUST_METADATA]
        connection.close()
    ctx = PolicyContext(registry.make_suite("tabletop").env_spec)
    weights = policy_fingerprint(registry.policy_factory("tiny-vla"), ctx)
    assert weights and metadata["fingerprint"] == weights
