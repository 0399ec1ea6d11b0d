"""The uncertainty head's slot: P(correct) from the last hidden state (P(IK)-style).

A linear probe on the final-norm output at the last position. It starts neutral (weight
and bias zero, so P = 0.5 for everything) and never changes the model's output; training
and calibrating it is the confidence gate's job.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from models.loading import BaseModel
from models.subsystem import NeuralSubsystem, final_norm


class UncertaintyHead(NeuralSubsystem):
    kind = "uncertainty"

    def __init__(self, base: BaseModel, *, name: str = "uncertainty") -> None:
        super().__init__(name)
        self.proj = nn.Linear(base.model.config.hidden_size, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self._last: torch.Tensor | None = None

    def config(self) -> dict[str, Any]:
        return {}

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """P(correct) for last hidden states [..., D] -> [...]."""
        return torch.sigmoid(self.proj(hidden.float())).squeeze(-1)

    def probability(self) -> torch.Tensor | None:
        """P(correct) [B] at the last position of the latest forward pass; None while the
        head is switched off or before any forward."""
        if not self.enabled or self._last is None:
            return None
        return self(self._last)

    def _install(self, base: BaseModel) -> list[RemovableHandle]:
        self._last = None
        return [final_norm(base).register_forward_hook(self._record)]

    def _record(self, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        self._last = output[:, -1]
