"""Calibration metrics of P(right) against 0/1 outcomes, with bootstrap 95% intervals.

ECE: 15 equal-width bins, the L1 gap between mean confidence and accuracy weighted by bin
size (torchmetrics `binary_calibration_error`). Brier: mean squared error of the
probability. AUROC: how well the probability ranks right answers above wrong ones (0.5 is
chance); temperature scaling is monotonic, so it cannot change AUROC.
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel
from torchmetrics.functional.classification import binary_auroc, binary_calibration_error

N_BINS = 15
METRICS = ("ece", "brier", "auroc")
# torchmetrics bins on linspace(0, 1, 16) with right-closed bucketize: a confidence of
# exactly 1.0 would land past the last bin
BELOW_ONE = 1.0 - 1e-6


class Interval(BaseModel):
    value: float
    low: float
    high: float


def ece(p: torch.Tensor, y: torch.Tensor) -> float:
    confidence = p.clamp(0.0, BELOW_ONE)
    return float(binary_calibration_error(confidence, y.long(), n_bins=N_BINS, validate_args=False))


def brier(p: torch.Tensor, y: torch.Tensor) -> float:
    return float((p.double() - y.double()).pow(2).mean())


def auroc(p: torch.Tensor, y: torch.Tensor) -> float:
    """NaN when `y` holds a single class, where ranking is undefined."""
    if y.min() == y.max():
        return math.nan
    return float(binary_auroc(p, y.long(), validate_args=False))


def with_intervals(
    p: torch.Tensor, y: torch.Tensor, *, resamples: int = 1000, seed: int = 0
) -> dict[str, Interval]:
    """Each metric on (p, y) with a percentile bootstrap 95% interval over items. The
    resamples depend only on `seed` and the size, so two sets of probabilities for the
    same items (before and after scaling) are compared on the same resamples."""
    generator = torch.Generator().manual_seed(seed)
    draws = torch.randint(len(y), (resamples, len(y)), generator=generator)
    result = {}
    for name, metric in (("ece", ece), ("brier", brier), ("auroc", auroc)):
        values = torch.tensor([metric(p[rows], y[rows]) for rows in draws], dtype=torch.float64)
        values = values[~values.isnan()]
        low, high = (
            values.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
            if len(values)
            else (math.nan, math.nan)
        )
        result[name] = Interval(value=metric(p, y), low=low, high=high)
    return result


def ece_if_calibrated(p: torch.Tensor, *, resamples: int = 1000, seed: int = 0) -> Interval:
    """The ECE a perfectly calibrated head would score on these items: each label drawn
    from its own probability. Binned ECE is biased upwards on a finite sample, so this is
    the floor against which a measured ECE is read."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.tensor(
        [ece(p, torch.bernoulli(p.double(), generator=generator)) for _ in range(resamples)],
        dtype=torch.float64,
    )
    low, high = values.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return Interval(value=float(values.mean()), low=low, high=high)


def reliability_bins(p: torch.Tensor, y: torch.Tensor) -> list[tuple[int, float, float, int]]:
    """(bin, mean confidence, accuracy, count) of every non-empty bin, low to high."""
    index = (p.clamp(0.0, BELOW_ONE) * N_BINS).long()
    bins = []
    for b in range(N_BINS):
        chosen = index == b
        if chosen.any():
            bins.append(
                (b, float(p[chosen].mean()), float(y[chosen].float().mean()), int(chosen.sum()))
            )
    return bins
