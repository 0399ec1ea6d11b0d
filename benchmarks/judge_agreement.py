"""Judges against blind readers (#17): the fitted judge and the rubric judge it replaces,
scored on the real replies of `data/probes/reader_labels.jsonl`.

Prints, per judge, Spearman with the readers' mean on consistency, engagement and reasoning
(95% interval from resampling whole conversations) on the rows no judge was tuned on
(`untuned`: the `holdout` rows labelled with `dev`, and the `test` rows, labelled after the
fitted judge's weights were frozen), on each of those, and on the rows the fitted judge was
fit on for reference; then the ICS each judge gives each target beside the readers' ICS, on
the untuned ICS-50 rows and on all ICS-50 rows, and each labelled set's ICS on its untuned
rows by the readers and the fitted judge. Targets: Spearman >= 0.6 on each dimension and
ICS within 8 points, on the untuned rows. Writes the same as a PNG chart. Exits 1 when the
fitted judge misses a target.

    .venv/bin/python -m benchmarks.judge_agreement [--chart docs/figures/judge_agreement.png]

`--fit` first refits the fitted judge's weights on the `dev` and `fresh` rows and writes them to
`data/probes/fitted_judge.json` (deterministic: refitting reproduces the stored file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from eyla.identity import load_identity
from eyla.probes.agreement import load_labels
from eyla.probes.agreement_report import misses, report
from eyla.probes.fitted import FIT_SPLITS, WEIGHTS, FittedJudge, fit
from eyla.probes.judge import RubricJudge

console = Console(width=120)


def refit() -> None:
    spec = load_identity()
    rows = [row for row in load_labels() if row.split in FIT_SPLITS]
    targets = np.array([row.readers_mean() for row in rows])
    weights = fit([row.case(spec) for row in rows], targets, spec, [row.id for row in rows])
    weights.dump(WEIGHTS)
    console.print(f"fitted on {weights.rows} rows ({', '.join(FIT_SPLITS)}) -> {WEIGHTS}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", action="store_true", help="refit the weights on dev first")
    parser.add_argument(
        "--chart", type=Path, default=Path("docs/figures/judge_agreement.png"), help="PNG out"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args()
    if args.fit:
        refit()
    spec = load_identity()
    fitted = report(console, [FittedJudge(spec), RubricJudge(spec)], spec, args.chart, args.seed)
    if missed := misses(fitted):
        console.print(f"[red]{fitted.judge} misses on the untuned rows: {'; '.join(missed)}")
        return 1
    console.print(f"{fitted.judge} meets every target on the untuned rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
