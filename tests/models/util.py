"""Helpers shared by the subsystem tests."""

from __future__ import annotations

import torch

from models.eyla_model import EylaModel, default_subsystems
from models.loading import BaseModel


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def with_defaults(base: BaseModel) -> EylaModel:
    """`base` with a fresh default set of every kind attached."""
    eyla = EylaModel(base)
    for subsystem in default_subsystems(base):
        eyla.add(subsystem)
    return eyla


def make_nonzero(eyla: EylaModel, seed: int = 1) -> None:
    """Give every zero-initialised factor a random value, as training would."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for subsystem in eyla.subsystems.neural():
            for gate in subsystem.gates():
                gate.copy_(torch.randn(gate.shape, generator=generator) * 0.5)


def token_ids(length: int, seed: int = 0, vocab: int = 300) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (1, length), generator=generator)
