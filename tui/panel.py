"""The side panel: who Eyla is, and what stood behind the last reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Collapsible, Static

if TYPE_CHECKING:
    from eyla.identity import IdentitySpec
    from memory.records import Hit


EIGHTHS = " ▏▎▍▌▋▊▉"


def meter(fraction: float, width: int) -> str:
    """A bar `width` cells wide, filled to `fraction` in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def bar(fraction: float, width: int, style: str) -> Content:
    filled = meter(fraction, width)
    return Content.assemble((filled, style), ("·" * (width - len(filled)), "$foreground 20%"))


def heading(title: str) -> Content:
    return Content.styled(title, "bold $accent")


class IdentityCard(Widget):
    """The spec's name and kind, with the rest folded away on short terminals."""

    def __init__(self, identity: IdentitySpec, collapsed: bool) -> None:
        super().__init__()
        self.identity = identity
        self.collapsed = collapsed

    def compose(self) -> ComposeResult:
        spec = self.identity
        yield Static(
            Content.from_markup("[b $accent]$name[/]\n$kind", name=spec.name, kind=spec.kind)
        )
        with Collapsible(title="purpose, values, style", collapsed=self.collapsed):
            lines = [
                f"Created by {spec.creator}.",
                f"Purpose: {spec.purpose}.",
                "Values:",
                *(f"• {value}" for value in spec.values),
            ]
            if spec.style:
                lines.append(f"Style: {spec.style}.")
            yield Static("\n".join(lines), markup=False)


class ConfidenceGauge(Widget):
    """The calibrated confidence of the last reply; below `threshold` Eyla hedges."""

    confidence: reactive[float | None] = reactive(None)

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold

    def render(self) -> Content:
        title = heading("Confidence")
        if self.confidence is None:
            return Content("\n").join([title, Content.styled("n/a", "dim")])
        style = "$success" if self.confidence >= self.threshold else "$warning"
        width = max(4, self.size.width - 6)
        value = Content(f" {self.confidence:.2f}")
        return Content("\n").join([title, bar(self.confidence, width, style) + value])


class MemoryList(Widget):
    """The memories quoted in the last reply's prompt, with who said them."""

    hits: reactive[list[Hit] | None] = reactive(None, layout=True)
    status: reactive[str] = reactive("after a reply")

    def render(self) -> Content:
        lines = [heading(f"Memories ({len(self.hits)})" if self.hits else "Memories")]
        if self.hits is None:
            lines.append(Content.styled(self.status, "dim"))
        elif not self.hits:
            lines.append(Content.styled("none recalled", "dim"))
        for hit in self.hits or []:
            source = hit.provenance.replace("_", " ")
            lines.append(Content.styled(f"#{hit.id} {source} · {hit.score:.2f}", "dim"))
            lines.append(Content(hit.text))
        return Content("\n").join(lines)


class ContributionBars(Widget):
    """Each neural subsystem's contribution to the last reply: the mean KL (nats) between
    the full model and the model with that subsystem off, scaled to the largest."""

    values: reactive[dict[str, float] | None] = reactive(None, layout=True)
    status: reactive[str] = reactive("after a reply", layout=True)

    def render(self) -> Content:
        lines = [heading("Contributions (KL, nats)")]
        if not self.values:
            lines.append(Content.styled(self.status, "dim"))
            return Content("\n").join(lines)
        label = max(len(name) for name in self.values)
        width = max(4, self.size.width - label - 8)
        top = max(self.values.values()) or 1.0
        for name, value in self.values.items():
            lines.append(
                Content(f"{name:<{label}} ")
                + bar(value / top, width, "$primary")
                + Content(f" {value:.3f}")
            )
        if not any(self.values.values()):
            lines.append(Content.styled("no subsystem changed this reply", "dim"))
        return Content("\n").join(lines)


class SidePanel(VerticalScroll):
    def __init__(self, identity: IdentitySpec, threshold: float, collapsed: bool) -> None:
        super().__init__(id="panel")
        self.identity = identity
        self.threshold = threshold
        self.collapsed = collapsed

    def compose(self) -> ComposeResult:
        yield IdentityCard(self.identity, self.collapsed)
        yield ConfidenceGauge(self.threshold)
        yield MemoryList()
        yield ContributionBars()

    def clear(self, status: str = "after a reply") -> None:
        """Forget the last reply: a new one is coming, or another session is shown."""
        self.query_one(ConfidenceGauge).confidence = None
        memories = self.query_one(MemoryList)
        memories.hits, memories.status = None, status
        bars = self.query_one(ContributionBars)
        bars.values, bars.status = None, status
