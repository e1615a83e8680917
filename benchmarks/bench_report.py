"""Report and compare at scale: 10,000 cases built from a real run's JUnit properties.

    python benchmarks/bench_report.py [--source fixtures/junit/<run>.xml] [--cases 10000]

The source file's episodes (real parameters, per-chunk latencies, instructions, step
counts of a real tabletop run) are cloned onto new seed indices until there are
`--cases` of them, written as 4 shard files, and `wamrobust report` is timed end to end
(read + merge + tables + HTML + PNG). The oracle of the source run solves everything,
so each clone's outcome is drawn at pi0.5's published LIBERO-Plus success rate for its
setting (96.9/75.4/77.5/85.6/96.9/94.6/89.7/85.7 %), which gives the compare realistic
noise. Then `compare` is run against candidates built from that baseline:
- no change: a rerun where each case keeps its outcome with probability 0.7 and is
  otherwise redrawn at its setting's success rate (two full pi0 runs agreed on 90.8%
  of variants; this gives about that), repeated `--reruns` times to count false alarms;
- regression: the same rerun noise plus a `--drop` pp loss on one axis.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_wamrobust.cli import main as wamrobust
from pytest_wamrobust.core.cases.sharding import Shard, shard_cases
from pytest_wamrobust.core.judging.compare import REGRESSED, compare_results
from pytest_wamrobust.core.model.results import FAILURE, SUCCESS, EpisodeResult
from pytest_wamrobust.records.junit import read_results, write_results

ROOT = Path(__file__).resolve().parents[1]


#: pi0.5 on LIBERO-Plus, per setting (the study's table).
PI05_RATES = {"clean": 0.969, "camera": 0.754, "robot_init": 0.775, "language": 0.856,
              "light": 0.969, "background": 0.946, "noise": 0.897, "layout": 0.857}


def scale(source: list[EpisodeResult], cases: int,
          rng: np.random.Generator) -> list[EpisodeResult]:
    """Clone real episodes onto fresh seed indices, outcomes drawn at pi0.5's rates."""
    stride = max(r.key.seed_index for r in source) + 1
    out = []
    for i in range(cases):
        real = source[i % len(source)]
        copy = i // len(source)
        key = dataclasses.replace(real.key, seed_index=real.key.seed_index + copy * stride)
        solved = rng.random() < PI05_RATES.get(key.setting, 0.85)
        out.append(dataclasses.replace(real, key=key, policy="baseline",
                                       status=SUCCESS if solved else FAILURE))
    return out


def rerun(base: list[EpisodeResult], rng: np.random.Generator, keep: float = 0.7,
          axis: str = "", drop: float = 0.0) -> list[EpisodeResult]:
    """A second run of the same cases: sticky outcomes, same rates; then exactly
    `drop` x (cases of `axis`) more of that axis's cases fail than the rerun alone gives."""
    rates = collections.defaultdict(list)
    for r in base:
        rates[r.key.setting].append(r.success)
    rate = {a: float(np.mean(v)) for a, v in rates.items()}
    solved = [r.success if rng.random() < keep else rng.random() < rate[r.key.setting]
              for r in base]
    on_axis = [i for i, r in enumerate(base) if r.key.setting == axis and solved[i]]
    for i in rng.permutation(on_axis)[:round(drop * len(rates.get(axis, [])))]:
        solved[i] = False
    return [dataclasses.replace(r, policy="candidate", status=SUCCESS if s else FAILURE)
            for r, s in zip(base, solved, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path,
                        default=ROOT / "fixtures" / "junit" / "tabletop_scripted.xml")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--axis", default="light", help="axis that gets the planted regression")
    parser.add_argument("--drop", type=float, default=0.10, help="planted loss (fraction)")
    parser.add_argument("--reruns", type=int, default=20, help="no-change candidates to try")
    args = parser.parse_args()

    rng = np.random.default_rng(2603_22078)
    source = read_results([args.source])
    base = scale(source, args.cases, rng)
    print(f"source: {args.source.name} ({len(source)} real episodes), scaled to {len(base)} cases")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        by_key = {r.key: r for r in base}
        shards = [write_results([by_key[k] for k in shard_cases(by_key, Shard(i, 4))],
                                tmp / f"shard{i}.xml") for i in range(1, 5)]
        t0 = time.perf_counter()
        read_results(shards)
        t_read = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        code = wamrobust(["report", *map(str, shards), "--markdown", str(tmp / "r.md"),
                          "--html", str(tmp / "r.html"), "--merged-xml", str(tmp / "merged.xml")])
        t_report, c_report = time.perf_counter() - t0, time.process_time() - c0
        assert code == 0
        print(f"report of {len(base)} cases from 4 shards: {t_report:.2f} s wall, "
              f"{c_report:.2f} s CPU "
              f"(of which reading JUnit {t_read:.2f} s); "
              f"HTML {(tmp / 'r.html').stat().st_size // 1024} kB")

        alarms = 0
        agreement = []
        for _ in range(args.reruns):
            cand = rerun(base, rng)
            agreement.append(np.mean([a.success == b.success
                                      for a, b in zip(base, cand, strict=True)]))
            alarms += compare_results(base, cand).regressed
        print(f"no-change candidates: {alarms}/{args.reruns} flagged as regressed "
              f"(case agreement with baseline {100 * np.mean(agreement):.1f}%)")

        cand = rerun(base, rng, axis=args.axis, drop=args.drop)
        write_results(cand, tmp / "candidate.xml")
        t0 = time.perf_counter()
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):  # -> c.md
            code = wamrobust(["compare", str(tmp / "merged.xml"), str(tmp / "candidate.xml"),
                              "--markdown", str(tmp / "c.md")])
        t_compare = time.perf_counter() - t0
        result = compare_results(base, cand)
        flagged = [r.setting for r in result.rows if r.verdict == REGRESSED]
        row = result.row(args.axis)
        print(f"planted -{100 * args.drop:.0f} pp on {args.axis}: exit {code}, regressed rows "
              f"{flagged}, {args.axis} delta {100 * row.delta:+.1f} pp, "
              f"p(Holm) {row.adjusted_p:.2g}; compare took {t_compare:.2f} s")
    return 0 if code == 1 and alarms == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
