"""Fit the uncertainty head (L2-regularised logistic regression on frozen hidden states)
and its temperature (`T = exp(t)`, minimising NLL on a held-out split; Guo et al. 2017).

A few hundred examples against a 576-wide hidden state is a regime where an unregularised
probe memorises its training set, so the L2 strength is chosen by stratified k-fold
cross-validation on the training split alone. Everything runs full-batch in float64 with
L-BFGS, which is deterministic on CPU: the same data always gives the same head.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# half-decade steps; wide enough that cross-validation never stops at an edge in practice
L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0, 30.0, 100.0)
# |t| beyond this means a split with a single class, where NLL has no finite minimum
MAX_LOG_TEMPERATURE = 5.0


@dataclass(frozen=True)
class HeadFit:
    weight: torch.Tensor  # [D] on the raw hidden state
    bias: float
    l2: float
    cv_nll: dict[float, float]  # mean held-out NLL of each L2 strength tried


def fit_head(
    features: torch.Tensor, labels: torch.Tensor, *, folds: int = 5, seed: int = 0
) -> HeadFit:
    """A logistic probe P(right | hidden) on `features` [N, D] and 0/1 `labels` [N]."""
    x, y = features.double(), labels.double()
    splits = _stratified_folds(y, folds, seed)
    cv_nll = {l2: _cross_validated_nll(x, y, splits, l2) for l2 in L2_GRID}
    l2 = min(L2_GRID, key=lambda value: (cv_nll[value], -value))
    weight, bias = fit_logistic(x, y, l2)
    return HeadFit(weight.float(), bias, l2, cv_nll)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, l2: float) -> tuple[torch.Tensor, float]:
    """Minimise mean BCE + l2/2 |w|^2 over standardised features, then fold the
    standardisation into (w, b) so the head applies to the raw hidden state."""
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ w + b, y) + 0.5 * l2 * w.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    raw = w.detach() / std
    return raw, float(b.detach() - raw @ mean)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The log-temperature t minimising the NLL of sigmoid(logits / exp(t))."""
    z, y = logits.double(), labels.double()
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([t], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z / t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(t.detach().clamp(-MAX_LOG_TEMPERATURE, MAX_LOG_TEMPERATURE))


def _cross_validated_nll(
    x: torch.Tensor, y: torch.Tensor, folds: list[torch.Tensor], l2: float
) -> float:
    losses = []
    for held in folds:
        train = torch.ones(len(y), dtype=torch.bool)
        train[held] = False
        w, b = fit_logistic(x[train], y[train], l2)
        losses.append(F.binary_cross_entropy_with_logits(x[held] @ w + b, y[held]).item())
    return sum(losses) / len(losses)


def _stratified_folds(y: torch.Tensor, folds: int, seed: int) -> list[torch.Tensor]:
    """`folds` index sets, each with about the same share of right answers."""
    rng = random.Random(seed)
    buckets: list[list[int]] = [[] for _ in range(folds)]
    for label in (0.0, 1.0):
        members = [i for i in range(len(y)) if y[i].item() == label]
        rng.shuffle(members)
        for position, index in enumerate(members):
            buckets[position % folds].append(index)
    return [torch.tensor(sorted(bucket), dtype=torch.long) for bucket in buckets if bucket]
