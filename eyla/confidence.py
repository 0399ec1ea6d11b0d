"""The confidence gate: the uncertainty head's calibrated P(correct) for a reply, and what
the agent does when it is low."""

from __future__ import annotations

import math

from models.subsystem import Subsystem
from models.uncertainty import UncertaintyHead


class ConfidenceGate(Subsystem):
    """Reads the head after a reply; below `threshold` the reply hedges.

    An untrained head (weights still zero) says 0.5 about everything, which carries no
    information, so the gate stays silent until trained weights are loaded.
    """

    kind = "confidence"

    def __init__(self, head: UncertaintyHead | None, threshold: float) -> None:
        super().__init__("confidence_gate")
        self.head = head
        self.threshold = threshold

    @property
    def trained(self) -> bool:
        return self.head is not None and bool(self.head.proj.weight.detach().abs().sum() > 0)

    def confidence(self) -> float | None:
        """Calibrated P(correct) of the reply the model just produced, if known."""
        if not self.enabled or not self.trained:
            return None
        p = self.head.probability()  # type: ignore[union-attr]
        return None if p is None else float(p[0])

    def note(self, confidence: float | None) -> str:
        """What to add after a reply: nothing when confident, a hedge when not, and an
        outright "I don't know" when far below the threshold."""
        if confidence is None or confidence >= self.threshold:
            return ""
        percent = math.floor(confidence * 100)
        if confidence < self.threshold / 2:
            return f"\n\n(I don't know if this is right: my confidence is {percent}%.)"
        return f"\n\n(I'm not sure about this: my confidence is {percent}%.)"
