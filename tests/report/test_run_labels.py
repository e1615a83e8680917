"""`wamrobust report --label NAME=FILE`: two runs of one policy (before and after a change,
two checkpoints served under one name) side by side, each row named by its label, where
unlabelled they would be refused as the same shard given twice."""

from __future__ import annotations

import re

import pytest
from report_data import grid_results

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.cases.sharding import Shard, shard_cases
from pytest_wamrobust.records.junit import read_results, write_results


def report(capsys, *argv: object) -> tuple[int, str, str]:
    code = main(["report", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def row(markdown: str, name: str) -> list[str]:
    line = re.search(rf"^\| {re.escape(name)} .*$", markdown, re.MULTILINE)
    assert line is not None, markdown
    return [cell.strip() for cell in line[0].strip("|").split("|")]


def test_two_runs_of_one_policy_sit_side_by_side_under_their_labels(tmp_path, capsys):
    before = write_results(grid_results("pi05", {"camera": 0.9, "*": 0.8}, salt="a"),
                           tmp_path / "before.xml")
    after = write_results(grid_results("pi05", {"camera": 0.1, "*": 0.8}, salt="b"),
                          tmp_path / "after.xml")
    code, _, err = report(capsys, before, after)
    assert code == 2 and "appears in both" in err  # unlabelled: shards of one run

    code, out, _ = report(capsys, "--label", f"before={before}", "--label", f"after={after}",
                          "--html", tmp_path / "r.html", "--markdown", tmp_path / "r.md")
    markdown = (tmp_path / "r.md").read_text()
    assert code == 0 and not re.search(r"^\| pi05 ", markdown, re.MULTILINE)
    # each row is its own run's table: the camera column tells them apart
    alone = {name: report(capsys, path)[1] for name, path in (("before", before),
                                                                ("after", after))}
    for name in ("before", "after"):
        assert row(markdown, name)[1:] == row(alone[name], "pi05")[1:]
    assert "before: success per setting" in markdown and "after: success per setting" in markdown
    page = (tmp_path / "r.html").read_text()
    assert str(before) in page and str(after) in page  # the page lists the files it read


def test_shards_of_a_labelled_run_merge_and_plain_files_keep_their_policy(tmp_path, capsys):
    """One label on several files merges them as shards; unlabelled files still merge by
    policy, beside the labelled rows."""
    results = grid_results("pi05", salt="a")
    by_key = {r.key: r for r in results}
    shards = [write_results([by_key[k] for k in shard_cases(by_key, Shard(i, 2))],
                            tmp_path / f"new{i}.xml") for i in (1, 2)]
    old = write_results(grid_results("pi05", salt="b"), tmp_path / "old.xml")
    code, out, _ = report(capsys, old, *(f"--label=candidate={s}" for s in shards))
    assert code == 0
    assert row(out, "candidate")[1:] == row(report(capsys, *shards)[1], "pi05")[1:]
    assert row(out, "pi05")[1:] == row(report(capsys, old)[1], "pi05")[1:]

    merged = tmp_path / "merged.xml"  # the next baseline holds both, by label
    assert report(capsys, "--label", f"old={old}", "--label", f"new={shards[0]}",
                  "--label", f"new={shards[1]}", "--merged-xml", merged)[0] == 0
    assert sorted({r.policy for r in read_results([merged])}) == ["new", "old"]


def test_a_bad_label_is_one_line(tmp_path, capsys):
    xml = write_results(grid_results("pi05"), tmp_path / "r.xml")
    for label in (str(xml), "before=", f"={xml}"):
        with pytest.raises(SystemExit) as stopped:  # argparse's usage and one error line
            main(["report", "--label", label])
        err = capsys.readouterr().err
        assert stopped.value.code == 2
        assert err.splitlines()[-1] == (f"wamrobust report: error: argument --label: "
                                        f"--label takes NAME=FILE, got {label!r}")
    for argv, message in [
        ([xml, "--label", f"before={xml}"], f"{xml} is given both as RESULTS and with --label"),
        ([xml, "--label", f"pi05={xml}x"], "--label pi05=... names a row the same as a policy"),
        (["--label", f"new={xml}x"], f"{xml}x: no such file"),
        ([], "no JUnit files given"),
    ]:
        code, out, err = report(capsys, *argv)
        assert code == 2 and out == "" and message in err and err.count("\n") == 1, err
