"""`wamrobust compare BASELINE CANDIDATE...`: gate a release candidate against the last
release, case by case. Exit status 1 when any setting regressed (or, with
`--inconclusive=fail`, dropped on too few cases to tell), 0 otherwise."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_wamrobust.cli.arguments import argument_type
from pytest_wamrobust.core.judging.compare import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_EFFECT,
    compare_results,
    parse_alpha,
    parse_inconclusive_rule,
    parse_min_effect,
)

#: Exit status when the candidate regressed (2 is kept for usage errors).
EXIT_REGRESSED = 1


def add_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("baseline", metavar="BASELINE", help="JUnit XML of the baseline run")
    sub.add_argument("candidate", nargs="+", metavar="CANDIDATE",
                     help="JUnit XML of the candidate run (its shards may be given one by one)")
    sub.add_argument("--alpha", type=argument_type(parse_alpha), default=DEFAULT_ALPHA,
                     help="family-wise significance level (Holm over the rows; default 0.05)")
    sub.add_argument("--min-effect", type=argument_type(parse_min_effect),
                     default=DEFAULT_MIN_EFFECT, metavar="PP",
                     help="smallest success-rate change in percentage points that counts as "
                          "a regression or improvement (default 5)")
    sub.add_argument("--inconclusive", type=argument_type(parse_inconclusive_rule),
                     default=False, metavar="pass|fail",
                     help="what a drop too few cases can judge does: pass (default; the "
                          "verdict says INCONCLUSIVE) or fail (exit status 1)")
    sub.add_argument("--baseline-policy", help="use this policy's results from the baseline")
    sub.add_argument("--candidate-policy", help="use this policy's results from the candidate")
    sub.add_argument("--markdown", metavar="FILE", help="also write the table here")


def run(args: argparse.Namespace) -> int:
    from pytest_wamrobust.core.model.chunking import protocol_difference
    from pytest_wamrobust.records.junit import results_of_one_policy
    from pytest_wamrobust.report.tables import comparison_table, to_markdown

    baseline = results_of_one_policy([args.baseline], args.baseline_policy, "the baseline",
                                     "--baseline-policy")
    candidate = results_of_one_policy(args.candidate, args.candidate_policy, "the candidate",
                                      "--candidate-policy")
    comparison = compare_results(baseline, candidate, alpha=args.alpha,
                                 min_effect=args.min_effect)
    markdown = to_markdown(comparison_table(comparison))
    protocols = protocol_difference(baseline, candidate)
    if protocols:
        markdown += f"\n{protocols}\n"
    passed, verdict = comparison.verdict_text(args.inconclusive)
    overall = comparison.overall
    # a regressed or inconclusive verdict names its rows; "no regression" adds the total's
    markdown += (f"\nVerdict: {verdict}"
                 + (f" (overall: {overall.verdict})" if overall and passed
                    and not comparison.inconclusive_drops else "") + ".\n")
    print(markdown, end="")
    if args.markdown:
        target = Path(args.markdown)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(markdown)
    if not passed:
        why = "regressed" if comparison.regressed else "dropped by an inconclusive margin"
        print(f"wamrobust compare: the candidate {why}; see the table above", file=sys.stderr)
        return EXIT_REGRESSED
    return 0
