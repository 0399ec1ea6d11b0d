"""Zero-initialised residual bottleneck adapters after chosen decoder blocks (AdapterTune).

Each adapted block's output `h` becomes `h + up(gelu(down(h)))`. `up` starts at zero, so a
fresh adapter is an exact no-op; `down` is Xavier-initialised so that the very first
gradient reaching `up` is non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle

from eyla.errors import EylaError
from models.loading import BaseModel
from models.subsystem import NeuralSubsystem, decoder_layers, evenly_spaced, resolve_layers

DEFAULT_RANK = 16
DEFAULT_LAYER_COUNT = 6


class Bottleneck(nn.Module):
    """`up(gelu(down(h)))`, computed in float32 and returned in `h`'s dtype."""

    def __init__(self, hidden_size: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(hidden_size, rank)
        self.up = nn.Linear(rank, hidden_size)
        nn.init.xavier_uniform_(self.down.weight)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.up(F.gelu(self.down(hidden.float()))).to(hidden.dtype)


class Adapter(NeuralSubsystem):
    kind = "adapter"
    writes_residual = True

    def __init__(
        self,
        base: BaseModel,
        *,
        name: str = "adapter",
        layers: Sequence[int | str] | None = None,
        rank: int = DEFAULT_RANK,
    ) -> None:
        super().__init__(name)
        if rank < 1:
            raise EylaError(f"adapter rank must be at least 1, got {rank}")
        count = len(decoder_layers(base))
        chosen = evenly_spaced(count, DEFAULT_LAYER_COUNT) if layers is None else layers
        self.layers = resolve_layers(base, chosen)
        self.rank = rank
        hidden = base.model.config.hidden_size
        self.blocks = nn.ModuleDict({str(i): Bottleneck(hidden, rank) for i in self.layers})

    def config(self) -> dict[str, Any]:
        return {"layers": self.layers, "rank": self.rank}

    def gates(self) -> list[torch.Tensor]:
        return [block.up.weight for block in self.blocks.values()]

    def _install(self, base: BaseModel) -> list[RemovableHandle]:
        blocks = decoder_layers(base)
        # prepend: run before any hook transformers adds to record hidden states, so a
        # recorded hidden state includes what the subsystems wrote
        return [
            blocks[i].register_forward_hook(partial(self._after_block, i), prepend=True)
            for i in self.layers
        ]

    def _after_block(
        self, index: int, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor
    ) -> torch.Tensor | None:
        if not self.enabled:
            return None
        return output + self._added(index, self.blocks[str(index)](output))
