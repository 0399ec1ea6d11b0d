"""The subsystem protocol, the registry that holds subsystems, and their off-switch.

Every subsystem, neural or not, has a `name`, a `kind`, its trainable `parameters()`, the
`gates()` that scale its contribution, `attach(base)` / `detach()`, and an `enabled` flag.
Agent-level subsystems (memory retrieval, identity guard, confidence gate) subclass
`Subsystem` and consult `enabled` before acting; neural ones subclass `NeuralSubsystem`
and install forward hooks on the frozen base, never editing its weights.

`Registry.off(*names)` switches subsystems off and restores each one's previous flag on
exit, so ablations nest: `off("adapter")` inside `off("adapter", "ssm")` leaves both off
until the outer block ends.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from eyla.errors import EylaError
from models.loading import BaseModel

NAME = re.compile(r"[A-Za-z0-9_-]+")

# `tap(layer, added)`: what a subsystem just added to the residual stream at that decoder
# layer, [batch, positions, hidden]
Tap = Callable[[int, torch.Tensor], None]


class Subsystem:
    """A part of Eyla that can be switched off and measured by ablation."""

    kind: ClassVar[str] = "subsystem"

    def __init__(self, name: str) -> None:
        # names key the saved weights ("<name>.<tensor>"), so they hold no dots
        if not NAME.fullmatch(name):
            raise EylaError(f"bad subsystem name {name!r}: use letters, digits, '_' or '-'")
        self.name = name
        self.enabled = True

    def parameters(self) -> Iterator[nn.Parameter]:
        """Trainable parameters; none for a subsystem that is not neural."""
        return iter(())

    def gates(self) -> list[torch.Tensor]:
        """The zero-initialised factors that scale this subsystem's contribution."""
        return []

    def attach(self, base: BaseModel) -> None:
        """Connect to `base`; a subsystem that does not touch the model does nothing."""

    def detach(self) -> None:
        """Undo `attach`."""

    @contextmanager
    def off(self) -> Iterator[None]:
        with switched_off([self]):
            yield


@contextmanager
def switched_off(subsystems: Iterable[Subsystem]) -> Iterator[None]:
    """Disable `subsystems`, then put back exactly the flags they had before."""
    saved = [(sub, sub.enabled) for sub in subsystems]
    for sub, _ in saved:
        sub.enabled = False
    try:
        yield
    finally:
        for sub, enabled in reversed(saved):
            sub.enabled = enabled


class NeuralSubsystem(nn.Module, Subsystem, ABC):
    """A subsystem with parameters, hooked into the base model's forward pass.

    Its parameters live here, outside the base model, so casting or saving the base never
    touches them; they stay in float32 whatever the base dtype.
    """

    # True for subsystems whose hooks add to the residual stream; they pass what they add
    # through `_added`, so the tracer can measure their share of the stream
    writes_residual: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        nn.Module.__init__(self)
        Subsystem.__init__(self, name)
        self._handles: list[RemovableHandle] = []
        self._taps: list[Tap] = []

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Placement and hyper-parameters, JSON-ready: `type(self)(base, name=..., **config)`
        rebuilds this subsystem."""

    @abstractmethod
    def _install(self, base: BaseModel) -> list[RemovableHandle]:
        """Register this subsystem's hooks on `base` and return their handles."""

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self, base: BaseModel) -> None:
        if self.attached:
            raise EylaError(f"subsystem '{self.name}' is already attached")
        self._handles = self._install(base)

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def param_groups(self, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        """Optimiser parameter groups; subclasses give some parameters their own settings."""
        return [{"params": list(self.parameters()), "lr": lr, "weight_decay": weight_decay}]

    @contextmanager
    def tap(self, callback: Tap) -> Iterator[None]:
        """Call `callback(layer, added)` with what this subsystem adds to the residual
        stream, for every forward pass inside the block."""
        self._taps.append(callback)
        try:
            yield
        finally:
            self._taps.remove(callback)

    def _added(self, layer: int, added: torch.Tensor) -> torch.Tensor:
        """Show `added` (about to go into the residual stream at `layer`) to the taps."""
        for callback in self._taps:
            callback(layer, added)
        return added


class Registry:
    """The subsystems attached to one base model, by unique name, in attachment order."""

    def __init__(self, base: BaseModel) -> None:
        self.base = base
        self._subsystems: dict[str, Subsystem] = {}

    def add(self, subsystem: Subsystem) -> Subsystem:
        if subsystem.name in self._subsystems:
            raise EylaError(f"a subsystem named '{subsystem.name}' is already registered")
        subsystem.attach(self.base)
        self._subsystems[subsystem.name] = subsystem
        return subsystem

    def remove(self, name: str) -> Subsystem:
        subsystem = self[name]
        subsystem.detach()
        del self._subsystems[name]
        return subsystem

    def __getitem__(self, name: str) -> Subsystem:
        try:
            return self._subsystems[name]
        except KeyError:
            raise EylaError(f"no subsystem '{name}'; registered: {self._listing()}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._subsystems

    def __iter__(self) -> Iterator[Subsystem]:
        return iter(list(self._subsystems.values()))

    def __len__(self) -> int:
        return len(self._subsystems)

    @property
    def names(self) -> list[str]:
        return list(self._subsystems)

    def neural(self) -> list[NeuralSubsystem]:
        return [sub for sub in self if isinstance(sub, NeuralSubsystem)]

    @contextmanager
    def off(self, *names: str) -> Iterator[None]:
        """Switch off the named subsystems (all of them when no name is given)."""
        chosen = [self[name] for name in names] if names else list(self)
        with switched_off(chosen):
            yield

    def _listing(self) -> str:
        return ", ".join(self._subsystems) or "none"


def decoder_layers(base: BaseModel) -> nn.ModuleList:
    """The base model's decoder blocks (Llama-style `model.layers`)."""
    layers = getattr(base.model.get_decoder(), "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise EylaError(f"{type(base.model).__name__} has no decoder layer list to attach to")
    return layers


def final_norm(base: BaseModel) -> nn.Module:
    """The norm whose output is the last hidden state (Llama-style `model.norm`)."""
    norm = getattr(base.model.get_decoder(), "norm", None)
    if not isinstance(norm, nn.Module):
        raise EylaError(f"{type(base.model).__name__} has no final norm to attach to")
    return norm


def resolve_layers(base: BaseModel, layers: Iterable[int | str]) -> list[int]:
    """Decoder-layer indices for `layers`, given as indices (negative counts from the top)
    or module names such as "model.layers.3"; an unknown layer is an error naming what
    exists, never a silent no-op."""
    count = len(decoder_layers(base))
    prefix = _layer_prefix(base)
    chosen: set[int] = set()
    for layer in layers:
        index = _as_index(layer, prefix, count)
        if index is None:
            raise EylaError(
                f"no decoder layer {layer!r}: this model has layers 0-{count - 1} "
                f"(named {prefix}0 ... {prefix}{count - 1})"
            )
        chosen.add(index)
    if not chosen:
        raise EylaError("no layers given to attach to")
    return sorted(chosen)


def evenly_spaced(count: int, k: int) -> list[int]:
    """`k` layer indices spread over `count` layers, one in the middle of each of `k`
    equal spans (all layers when `k >= count`)."""
    if k >= count:
        return list(range(count))
    return [int((i + 0.5) * count / k) for i in range(k)]


def top_layers(count: int, k: int) -> list[int]:
    return list(range(max(0, count - k), count))


def _layer_prefix(base: BaseModel) -> str:
    layers = decoder_layers(base)
    name = next(name for name, module in base.model.named_modules() if module is layers)
    return f"{name}."


def _as_index(layer: int | str, prefix: str, count: int) -> int | None:
    if isinstance(layer, int) and not isinstance(layer, bool) and -count <= layer < count:
        return layer % count
    if isinstance(layer, str) and layer.startswith(prefix):
        digits = layer.removeprefix(prefix)
        if digits.isdigit() and int(digits) < count:
            return int(digits)
    return None
