"""Long `eyla` commands (the contribution report, probe runs) as background jobs.

Each runs as its own `eyla` process: it loads its own model, so it never shares the chat's
model or blocks the UI. Rich is told the pipe is an interactive terminal, so its progress
bar arrives as carriage-return frames; the latest frame is the job's progress line and
finished lines go to the log.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import re
import sys
import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, RichLog, Static

CLI = "import sys; sys.argv[0] = 'eyla'; from eyla.cli import main; main()"
SEPARATOR = re.compile(r"([\r\n])")


class JobScreen(ModalScreen[None]):
    """Installed by the chat screen so it, and the job, outlive being hidden."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Hide")]

    def __init__(self, title: str, args: list[str]) -> None:
        super().__init__(classes="dialog wide")
        self.job_title = title
        self.args = args
        self.running = True

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.job_title, classes="title")
            yield Static("starting...", id="progress")
            yield RichLog(wrap=True)
            yield Label("esc hide (the job keeps running; ctrl+p reopens it)", classes="hint")

    def on_mount(self) -> None:
        self.run_job()

    @work
    async def run_job(self) -> None:
        began = time.monotonic()
        log = self.query_one(RichLog)
        env = {
            **os.environ,
            "TTY_COMPATIBLE": "1",
            "TTY_INTERACTIVE": "1",
            # the log's own width is not laid out yet; the dialog's borders take about 10
            "COLUMNS": str(max(40, min(self.app.size.width, 120) - 10)),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLI,
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        assert process.stdout is not None
        try:
            await self._follow(process.stdout, log)
            code = await process.wait()
        finally:
            # the app quitting cancels this worker; the process must not outlive it
            if process.returncode is None:
                process.terminate()
        self.running = False
        took = f"{time.monotonic() - began:.0f} s"
        outcome = "finished" if code == 0 else f"failed (exit {code})"
        self._progress(Text(f"{outcome} in {took}", style="bold"))
        severity = "information" if code == 0 else "error"
        self.notify(f"{self.job_title}: {outcome}", severity=severity, markup=False)

    async def _follow(self, stream: asyncio.StreamReader, log: RichLog) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while chunk := await stream.read(4096):
            *parts, pending = SEPARATOR.split(pending + decoder.decode(chunk))
            for text, separator in zip(parts[::2], parts[1::2], strict=True):
                line = Text.from_ansi(text)
                if not line.plain.strip():
                    continue
                if separator == "\n":
                    log.write(line)
                else:
                    self._progress(line)
        if pending.strip():
            log.write(Text.from_ansi(pending))

    def _progress(self, line: Text) -> None:
        self.query_one("#progress", Static).update(line)
