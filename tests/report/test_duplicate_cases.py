"""A case counts once: twice in one JUnit file is refused like twice across files, not
counted as two episodes."""

from __future__ import annotations

import re

from report_data import grid_results

from pytest_wamrobust.cli import main
from pytest_wamrobust.records.junit import write_results


def test_a_case_twice_in_one_file_is_one_line(tmp_path, capsys):
    xml = write_results(grid_results("pi05"), tmp_path / "r.xml")
    first = re.search(r"<testcase .*?</testcase>", xml.read_text(), re.S)
    assert first is not None and "mini/task0/clean/L0/s00]" in first[0]
    xml.write_text(xml.read_text().replace(first[0], first[0] * 2, 1))  # runs pasted together
    code = main(["report", str(xml)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (f"wamrobust report: error: case mini/task0/clean/L0/s00 of policy 'pi05' "
                   f"appears twice in {xml}; pass the file pytest wrote, not runs pasted into "
                   f"one file\n")
