"""The uncertainty head: P(correct) from the last hidden state (P(IK)-style).

A linear probe on the final-norm output at the last position of the latest forward pass.
After a streamed reply that is the step that sampled the reply's last token (its end of
turn, or the token at the length cap), which is also the state `eyla train calibration`
trains on. It starts neutral (weight and bias zero, so P = 0.5 for everything) and never
changes the model's output.

Its logit is divided by a temperature `T = exp(log_temperature)` fitted on held-out answers
(temperature scaling); the temperature is a buffer, so it is saved and loaded with the
head's weights, and a set saved before it existed loads with T = 1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from models.loading import BaseModel
from models.subsystem import NeuralSubsystem, final_norm

TEMPERATURE_KEY = "log_temperature"


class UncertaintyHead(NeuralSubsystem):
    kind = "uncertainty"

    def __init__(self, base: BaseModel, *, name: str = "uncertainty") -> None:
        super().__init__(name)
        self.proj = nn.Linear(base.model.config.hidden_size, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.register_buffer(TEMPERATURE_KEY, torch.zeros(()))
        self.register_load_state_dict_pre_hook(_default_temperature)
        self._last: torch.Tensor | None = None

    def config(self) -> dict[str, Any]:
        return {}

    def gates(self) -> list[torch.Tensor]:
        """The probe starts at zero (P = 0.5 for everything); trained, it moves off."""
        return [self.proj.weight, self.proj.bias]

    @property
    def temperature(self) -> float:
        return float(self.get_buffer(TEMPERATURE_KEY).exp())

    def logit(self, hidden: torch.Tensor) -> torch.Tensor:
        """The uncalibrated logit of P(correct) for hidden states [..., D] -> [...]."""
        return self.proj(hidden.float()).squeeze(-1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Calibrated P(correct) for hidden states [..., D] -> [...]."""
        return torch.sigmoid(self.logit(hidden) / self.get_buffer(TEMPERATURE_KEY).exp())

    def last_hidden(self) -> torch.Tensor | None:
        """The final-norm output [B, D] at the last position of the latest forward pass."""
        return self._last

    @torch.no_grad()
    def probability(self) -> torch.Tensor | None:
        """P(correct) [B] at the last position of the latest forward pass; None while the
        head is switched off or before any forward. Gradient-free: the recorded state comes
        from generation under inference mode, which autograd may not see."""
        if not self.enabled or self._last is None:
            return None
        return self(self._last)

    def _install(self, base: BaseModel) -> list[RemovableHandle]:
        self._last = None
        return [final_norm(base).register_forward_hook(self._record)]

    def _record(self, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        self._last = output[:, -1]


def _default_temperature(
    module: nn.Module, state_dict: dict[str, torch.Tensor], prefix: str, *args: Any
) -> None:
    """Sets saved before temperature scaling existed have no temperature: T = 1."""
    state_dict.setdefault(prefix + TEMPERATURE_KEY, torch.zeros(()))
