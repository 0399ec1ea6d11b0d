"""The fitted judge (`--judge fitted`): the rubric judge's findings and the reader features
(`features.py`), weighed by a linear model fit to blind readers' scores.

The weights live in `data/probes/fitted_judge.json`, one intercept and one weight per feature
for each dimension, fit by ridge regression on the `dev` rows of
`data/probes/reader_labels.jsonl` only (`python -m benchmarks.judge_agreement --fit`); the
`holdout` rows are for measuring it. The rubric's own floor stays a rule: an empty or
degenerate reply scores no engagement and no reasoning, whatever the weights say.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from eyla.config import DATA_DIR
from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.probes import detectors, features, judge
from eyla.probes.features import NAMES, FeatureReader, Features
from eyla.probes.rubric import Case, Verdict

WEIGHTS = DATA_DIR / "probes" / "fitted_judge.json"
DIMENSIONS = ("consistency", "engagement", "reasoning")
ALPHA = 10.0  # ridge penalty on standardised features, chosen by cross-validation on dev
SHOWN = 4  # contributions named in a verdict's evidence, per dimension


class Linear(BaseModel):
    """One dimension's model: score = intercept + sum of weight * feature, then clipped to
    0-5 and rounded."""

    intercept: float
    weights: dict[str, float]

    def contributions(self, found: Features) -> dict[str, float]:
        return {name: w * found.values[name] for name, w in self.weights.items()}


class Weights(BaseModel):
    """What `fit` wrote: the models and which rows they were fit on."""

    fitted_on: str = Field(description="the label file and the split the models saw")
    rows: int
    rows_sha256: str = Field(description="of the sorted ids of the rows fit on")
    alpha: float
    models: dict[str, Linear]

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Weights:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise EylaError(f"cannot read the fitted judge's weights {path}: {exc}") from exc

    def dump(self, path: Path = WEIGHTS) -> None:
        path.write_text(json.dumps(self.model_dump(), indent=2) + "\n", encoding="utf-8")


class FittedJudge:
    name = "fitted"

    def __init__(self, spec: IdentitySpec, weights: Path = WEIGHTS) -> None:
        self.reader = FeatureReader(spec)
        self.weights = Weights.load(weights)
        if stray := {n for m in self.weights.models.values() for n in m.weights} - set(NAMES):
            raise EylaError(f"{weights} weighs features this judge lacks: {sorted(stray)}")
        # rules and weights together are the version: either changing re-scores stored replies
        modules = (detectors, judge, features, sys.modules[__name__])
        source = b"".join(Path(m.__file__).read_bytes() for m in modules)
        self.version = hashlib.sha256(source + weights.read_bytes()).hexdigest()[:12]

    def describe(self) -> dict[str, str]:
        return {"judge": self.name, "version": self.version}

    def score(self, case: Case) -> Verdict:
        found = self.reader.read(case)
        scores: dict[str, int] = {}
        evidence = []
        for dim in DIMENSIONS:
            model = self.weights.models[dim]
            parts = model.contributions(found)
            raw = model.intercept + sum(parts.values())
            scores[dim] = int(np.clip(np.rint(raw), 0, 5))
            top = sorted((p for p in parts.items() if p[1]), key=lambda p: -abs(p[1]))[:SHOWN]
            why = ", ".join(f"{name} {value:+.1f}" for name, value in top)
            evidence.append(f"{dim[0].upper()}={scores[dim]}: {raw:.2f} from {why or 'no feature'}")
        if found.values["degenerate"]:
            # the rubric: degenerate text shows no identity, engages nothing, reasons nothing
            scores = {"consistency": min(scores["consistency"], 1), "engagement": 0, "reasoning": 0}
            evidence.insert(0, "degenerate: C<=1, E=0, R=0 by the rubric")
        evidence += [f"{name}: '{why}'" if why else name for name, why in found.evidence.items()]
        return Verdict(**scores, evidence=evidence)


def fit(
    cases: Sequence[Case], targets: np.ndarray, spec: IdentitySpec, ids: Sequence[str]
) -> Weights:
    """Ridge regression of each dimension's reader score (`targets`, one row per case, one
    column per dimension) on the features, standardised for the penalty and stored in the
    features' own units. Deterministic: the same rows give the same weights."""
    reader = FeatureReader(spec)
    x = np.array([reader.read(case).vector() for case in cases], dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0  # a feature the rows never show gets no weight
    z = (x - mean) / scale
    models = {}
    for column, dim in enumerate(DIMENSIONS):
        y = targets[:, column]
        beta = np.linalg.solve(z.T @ z + ALPHA * np.eye(z.shape[1]), z.T @ (y - y.mean()))
        weights = beta / scale
        models[dim] = Linear(
            intercept=round(float(y.mean() - weights @ mean), 6),
            weights={name: round(float(w), 6) for name, w in zip(NAMES, weights, strict=True)},
        )
    return Weights(
        fitted_on="reader_labels.jsonl split=dev",
        rows=len(ids),
        rows_sha256=hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest(),
        alpha=ALPHA,
        models=models,
    )
