"""The JUnit file a dashboard reads: declared xunit2, it validates against the xunit2
schema pytest itself tests with (fixtures/junit-10.xsd, checked with lxml); left
unset, it is xunit1 with the properties inside each case, and the header says which.
Both shapes read back into the same results."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from pytest_wamrobust.records.junit import read_results

SCHEMA = Path(__file__).parents[2] / "fixtures" / "junit-10.xsd"
SELECT = ("--suite=tabletop", "--policy=scripted", "--tasks=lift_cube", "--axes=clean,camera",
          "--levels=1", "--seeds=1", "-p", "no:cacheprovider", "-p", "no:xdist",
          "--benchmark-disable", "--wam-thresholds=gates.toml", "--junitxml=report.xml")


def schema_errors(path: Path) -> list[str]:
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    schema.validate(etree.parse(str(path)))
    return [error.message for error in schema.error_log]


@pytest.fixture
def gated(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.path.joinpath("gates.toml").write_text("clean = 0.5\nmax_chunk_latency_ms = 500\n")
    return pytester


def test_declared_xunit2_validates_against_the_schema(gated):
    result = gated.runpytest_subprocess(*SELECT, "-o", "junit_family=xunit2")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["wamrobust: JUnit xunit2 (schema-valid*"])
    path = gated.path / "report.xml"
    assert schema_errors(path) == []
    assert "[[PROPERTY|wam.status=success]]" in path.read_text()
    assert not etree.parse(str(path)).xpath("//testcase/properties")
    assert {r.key.setting for r in read_results([path])} == {"clean", "camera"}


def test_unset_family_is_xunit1_with_properties_in_each_case_and_says_so(gated):
    result = gated.runpytest_subprocess(*SELECT)
    result.stdout.fnmatch_lines(["wamrobust: JUnit xunit1 (per-episode wam.* properties inside "
                                 "each <testcase>*"])
    path = gated.path / "report.xml"
    assert "Element 'properties': This element is not expected." in schema_errors(path)
    assert len(read_results([path])) == 2


def test_both_shapes_read_back_as_the_same_results(gated):
    gated.runpytest_subprocess(*SELECT, "-o", "junit_family=xunit2")
    xunit2 = read_results([gated.path / "report.xml"])
    gated.runpytest_subprocess(*SELECT)
    xunit1 = read_results([gated.path / "report.xml"])
    stable = [(r.key, r.status, r.steps, dict(r.params), r.episode_seed) for r in xunit1]
    assert stable == [(r.key, r.status, r.steps, dict(r.params), r.episode_seed) for r in xunit2]


def test_the_only_schema_complaint_on_an_errored_episode_is_pytests_own_error_element(gated):
    """The schema names the element `errors` (sic); pytest writes `<error>` for any
    erroring test, ours included: everything we add still validates."""
    gated.makepyfile(broken="def factory(ctx):\n    raise OSError('no checkpoint')\n")
    args = [a if a != "--policy=scripted" else "--policy=broken:factory" for a in SELECT]
    gated.runpytest_subprocess(*args, "-o", "junit_family=xunit2")
    errors = schema_errors(gated.path / "report.xml")
    assert errors and set(errors) == {"Element 'error': This element is not expected."}
