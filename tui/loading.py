"""What the app shows while the model loads: progress, never a blank screen."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.events import Print
from textual.screen import Screen
from textual.widgets import Label, ProgressBar


class LoadingScreen(Screen[None]):
    """An indeterminate bar, the seconds so far, and the latest thing the loaders said
    (printed output such as a model conversion's progress, and logged warnings)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Loading Eyla: the model, its subsystems and your memory")
            with Center():
                yield ProgressBar(total=None, show_eta=False)
            yield Label("", id="elapsed")
            yield Label("", id="said", markup=False)

    def on_mount(self) -> None:
        self.began = time.monotonic()
        self.set_interval(0.5, self._tick)
        self._tick()
        self.app.begin_capture_print(self, stdout=True, stderr=True)

    def on_unmount(self) -> None:
        self.app.end_capture_print(self)

    def _tick(self) -> None:
        self.query_one("#elapsed", Label).update(f"{time.monotonic() - self.began:.0f} s")

    def said(self, text: str) -> None:
        # progress bars redraw with carriage returns: the last frame is the news
        lines = text.replace("\r", "\n").strip().splitlines()
        if lines:
            self.query_one("#said", Label).update(lines[-1])

    def on_print(self, event: Print) -> None:
        self.said(event.text)
