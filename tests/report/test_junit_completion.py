"""The controller's amendment of pytest's JUnit file: every case the run has a result for
ends up in it whole, however far pytest got with writing it (a worker crash, a SIGTERM
between a case's reports, a case that never ran)."""

from __future__ import annotations

import dataclasses

from junitparser import Error, Failure, JUnitXml, Properties, TestCase
from report_data import grid_results

from pytest_wamrobust.core.model.results import FAILURE, NOT_RUN, SUCCESS
from pytest_wamrobust.records.junit import amend, read_results, write_results
from pytest_wamrobust.records.node_ids import EPISODE_TEST, NODE_PREFIX, case_name


def test_every_result_is_in_the_file_whole_with_its_outcome(tmp_path):
    whole, bare, absent, never = grid_results("tiny-vla")[:4]
    bare = dataclasses.replace(bare, status=FAILURE)
    absent = dataclasses.replace(absent, status=SUCCESS)
    never = dataclasses.replace(never, status=NOT_RUN, error="never ran: interrupted",
                                error_kind=NOT_RUN)
    path = write_results([whole, bare], tmp_path / "report.xml")
    xml = JUnitXml.fromfile(str(path))
    written = {case.name: case for suite in xml for case in suite}
    # pytest had written `bare` from its first report only: no properties, no outcome yet
    bare_case = written[case_name(EPISODE_TEST, bare.key.case_id)]
    bare_case.remove(bare_case.child(Properties))
    bare_case.result = []
    # and had begun `absent` when the signal came: an element with no name yet
    next(iter(xml)).add_testcase(TestCase())
    xml.write(str(path))

    results = {f"{NODE_PREFIX}::{case_name(EPISODE_TEST, r.key.case_id)}": r
               for r in (whole, bare, absent, never)}
    amend(path, [], [], results)

    read = {r.key: r.to_properties() for r in read_results([path])}
    assert read == {r.key: r.to_properties() for r in (whole, bare, absent, never)}
    cases = {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    assert None not in cases and len(cases) == 4
    outcome = {r.key.case_id: [type(x) for x in cases[case_name(EPISODE_TEST,
                                                                r.key.case_id)].result]
               for r in (bare, absent, never)}
    assert outcome == {bare.key.case_id: [Failure], absent.key.case_id: [],
                       never.key.case_id: [Error]}
