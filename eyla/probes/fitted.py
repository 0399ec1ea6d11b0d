"""The fitted judge (`--judge fitted`): the rubric judge's findings, the reader features
(`features.py`) and what the reply and its prompt are about (`meaning.py`), weighed by a
linear model fit to blind readers' scores.

The weights live in `data/probes/fitted_judge.json`: for each dimension one intercept, one
weight per named feature and one per number of the reply's and the prompt's embeddings, fit
by ridge regression on the `dev` and `fresh` rows of `data/probes/reader_labels.jsonl` only
(`python -m benchmarks.judge_agreement --fit`); the `holdout` and `test` rows are for
measuring it. A score is the model's estimate of the readers' mean, so it is a number from 0
to 5 with one decimal, as a mean of readers is. The rubric's own floor stays a rule: an empty
or degenerate reply scores no engagement and no reasoning, whatever the weights say.
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
from eyla.probes import detectors, features, judge, meaning
from eyla.probes.features import FeatureReader, Features
from eyla.probes.meaning import Meaning, MeaningReader
from eyla.probes.rubric import Case, Verdict
from memory.embedder import Embedder

WEIGHTS = DATA_DIR / "probes" / "fitted_judge.json"
DIMENSIONS = ("consistency", "engagement", "reasoning")
FIT_SPLITS = ("dev", "fresh")  # the label rows the weights are fit on; the rest measure them
SIMILARITY = "prompt-reply-similarity"
NAMES = (*features.NAMES, SIMILARITY)
# Ridge penalties on standardised columns, per group, chosen by cross-validation on the fit
# rows (leaving out one labelled set at a time): the 768 embedding numbers need far more
# shrinking than the 23 named features.
PENALTY = {"named": 10.0, "reply": 1000.0, "prompt": 1000.0}
# A column that spreads less than this over the fit rows is constant: MiniLM has dimensions
# that are zero up to float noise (1e-32, which differs between CPUs), and dividing by that
# spread gave them weights of 1e30, so the noise moved scores.
MIN_SPREAD = 1e-6
SHOWN = 4  # contributions named in a verdict's evidence, per dimension


class Linear(BaseModel):
    """One dimension's model: score = intercept + the weighted named features + the weighted
    embedding numbers, then clipped to 0-5."""

    intercept: float
    weights: dict[str, float]
    reply_meaning: list[float]
    prompt_meaning: list[float]

    def contributions(self, found: Features, meant: Meaning) -> dict[str, float]:
        values = {**found.values, SIMILARITY: meant.similarity}
        parts = {name: w * values[name] for name, w in self.weights.items()}
        parts["reply-meaning"] = float(np.dot(self.reply_meaning, meant.reply))
        parts["prompt-meaning"] = float(np.dot(self.prompt_meaning, meant.prompt))
        return parts


class Weights(BaseModel):
    """What `fit` wrote: the models and which rows they were fit on."""

    fitted_on: str = Field(description="the label file and the splits the models saw")
    rows: int
    rows_sha256: str = Field(description="of the sorted ids of the rows fit on")
    embedder: str
    penalty: dict[str, float]
    models: dict[str, Linear]

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Weights:
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise EylaError(f"cannot read the fitted judge's weights {path}: {exc}") from exc

    def dump(self, path: Path = WEIGHTS) -> None:
        path.write_text(json.dumps(self.model_dump(), indent=1) + "\n", encoding="utf-8")


class FittedJudge:
    name = "fitted"

    def __init__(
        self, spec: IdentitySpec, weights: Path = WEIGHTS, embedder: Embedder | None = None
    ) -> None:
        self.reader = FeatureReader(spec)
        self.meaning = MeaningReader(embedder)
        self.weights = Weights.load(weights)
        if stray := {n for m in self.weights.models.values() for n in m.weights} - set(NAMES):
            raise EylaError(f"{weights} weighs features this judge lacks: {sorted(stray)}")
        if self.weights.embedder != self.meaning.name:
            raise EylaError(
                f"{weights} was fit on {self.weights.embedder} embeddings, "
                f"not {self.meaning.name}'s"
            )
        # rules and weights together are the version: either changing re-scores stored replies
        modules = (detectors, judge, features, meaning, sys.modules[__name__])
        source = b"".join(Path(m.__file__).read_bytes() for m in modules)
        self.version = hashlib.sha256(source + weights.read_bytes()).hexdigest()[:12]

    def describe(self) -> dict[str, str]:
        return {"judge": self.name, "version": self.version, "embedder": self.meaning.name}

    def score(self, case: Case) -> Verdict:
        found = self.reader.read(case)
        meant = self.meaning.read(case)
        scores: dict[str, float] = {}
        evidence = []
        for dim in DIMENSIONS:
            model = self.weights.models[dim]
            parts = model.contributions(found, meant)
            raw = model.intercept + sum(parts.values())
            scores[dim] = round(float(np.clip(raw, 0, 5)), 1)
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
    cases: Sequence[Case],
    targets: np.ndarray,
    spec: IdentitySpec,
    ids: Sequence[str],
    embedder: Embedder | None = None,
) -> Weights:
    """Ridge regression of each dimension's reader score (`targets`, one row per case, one
    column per dimension) on the named features and the two embeddings, standardised for the
    penalties and stored in their own units. Deterministic: the same rows give the same
    weights."""
    reader, meanings = FeatureReader(spec), MeaningReader(embedder)
    found = [reader.read(case) for case in cases]
    meant = meanings.read_many(list(cases))
    x = np.array(
        [
            [*f.vector(), m.similarity, *m.reply, *m.prompt]
            for f, m in zip(found, meant, strict=True)
        ],
        dtype=float,
    )
    named, width = len(NAMES), len(meant[0].reply)
    penalty = np.concatenate(
        [
            np.full(named, PENALTY["named"]),
            np.full(width, PENALTY["reply"]),
            np.full(width, PENALTY["prompt"]),
        ]
    )
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < MIN_SPREAD] = 1.0  # a feature the rows never vary gets no weight
    z = (x - mean) / scale
    models = {}
    for column, dim in enumerate(DIMENSIONS):
        y = targets[:, column]
        beta = np.linalg.solve(z.T @ z + np.diag(penalty), z.T @ (y - y.mean()))
        weights = beta / scale
        models[dim] = Linear(
            intercept=round(float(y.mean() - weights @ mean), 7),
            weights=dict(zip(NAMES, rounded(weights[:named]), strict=True)),
            reply_meaning=rounded(weights[named : named + width]),
            prompt_meaning=rounded(weights[named + width :]),
        )
    return Weights(
        fitted_on=f"reader_labels.jsonl split={','.join(FIT_SPLITS)}",
        rows=len(ids),
        rows_sha256=hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest(),
        embedder=meanings.name,
        penalty=PENALTY,
        models=models,
    )


def rounded(values: np.ndarray) -> list[float]:
    """Weights as stored: seven decimals, so the file reads and diffs as text."""
    return [round(float(v), 7) for v in values]
