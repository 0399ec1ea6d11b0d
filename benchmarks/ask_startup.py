"""Warm `eyla ask` to its first token: in-process beside a resident `eyla serve`.

Starts `eyla serve` on a free loopback port over a temporary data dir (EYLA_HOME; your
data dir's converted models are linked in, so neither side converts the GGUF), then runs
`eyla ask QUESTION` as a user does, in turns so that load from other processes falls on
both alike: with --no-server (the baseline: the model loads in the process) and without
(the server answers). Each run is timed from spawn to the first non-blank byte on stdout
and to exit; one untimed run of each first warms the caches. Prints the median and max of
each beside the baseline, with the ratio; checks that the server answered the resident
runs and removed its server file on exit. Exits 1 when the resident median to the first
token misses 1.5 s (issue #21, point 4).

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.ask_startup [--runs 5]
        [--question Q] [--max-new-tokens N] [--model M]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from eyla.config import data_home
from eyla.server.presence import find, server_file

TARGET_SECONDS = 1.5
SERVER_START_SECONDS = 600  # a cold start converts the GGUF (about 20 s on 2 cores)
COMPLETION_LOG = "POST /v1/chat/completions"


@dataclass(frozen=True)
class Run:
    first_token: float
    exit: float
    answer: str


def eyla_command() -> list[str]:
    """The `eyla` console script beside this Python, else the same entry point."""
    script = Path(sys.executable).with_name("eyla")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from eyla.cli import main; main()"]


def timed(command: list[str], env: dict[str, str]) -> Run:
    """Run `command`; seconds from spawn to its first non-blank stdout byte and to exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    out, first = bytearray(), None
    # raw reads: a buffered read would wait for more than the first token
    while chunk := os.read(proc.stdout.fileno(), 4096):
        out += chunk
        if first is None and out.strip():
            first = time.perf_counter() - start
    code = proc.wait()
    total = time.perf_counter() - start
    reader.join()
    if code != 0 or first is None:
        detail = b"".join(errors).decode(errors="replace").strip()
        raise SystemExit(f"{' '.join(command)} failed (exit {code}): {detail}")
    return Run(first, total, out.decode(errors="replace").strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def link_model_cache(home: Path) -> None:
    """Your data dir's converted models, linked (read-only use) into `home`."""
    source = data_home() / "cache" / "models"
    target = home / "cache" / "models"
    target.mkdir(parents=True)
    for entry in source.iterdir() if source.is_dir() else ():
        (target / entry.name).symlink_to(entry.resolve())


def start_server(
    model_args: list[str], env: dict[str, str], home: Path, log: Path
) -> subprocess.Popen[bytes]:
    command = [*eyla_command(), "serve", "--port", str(free_port()), *model_args]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while find(home) is None:
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit(f"eyla serve did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return server


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)  # Ctrl-C: a clean shutdown
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def table(runs: dict[str, list[Run]]) -> Table:
    out = Table(title=f"warm `eyla ask`, {len(runs['in-process'])} runs each, seconds")
    for col in ("mode", "first token median", "first token max", "exit median", "exit max"):
        out.add_column(col, justify="right")
    for mode, done in runs.items():
        first = [r.first_token for r in done]
        total = [r.exit for r in done]
        out.add_row(
            mode,
            f"{statistics.median(first):.2f}",
            f"{max(first):.2f}",
            f"{statistics.median(total):.2f}",
            f"{max(total):.2f}",
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (at least 5)")
    parser.add_argument("--question", default="What is 2+2?")
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--model", default=None, help="default: the settings' (embedded)")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    console = Console()
    model_args = ["--model", args.model] if args.model else []
    ask_args = [*model_args]
    if args.max_new_tokens is not None:
        ask_args += ["--max-new-tokens", str(args.max_new_tokens)]

    with tempfile.TemporaryDirectory(prefix="eyla-ask-startup-") as tmp:
        home = Path(tmp) / "home"
        link_model_cache(home)
        env = os.environ | {"EYLA_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        env.pop("EYLA_API_KEY", None)  # a loopback server with no users needs no key
        log = Path(tmp) / "serve.log"
        ask = [*eyla_command(), "ask", args.question, *ask_args]
        modes = {"in-process": [*ask, "--no-server"], "resident server": ask}

        console.print("starting eyla serve (the first start converts the model)...")
        server = start_server(model_args, env, home, log)
        try:
            answers = {mode: timed(command, env).answer for mode, command in modes.items()}
            runs: dict[str, list[Run]] = {mode: [] for mode in modes}
            for _ in range(args.runs):
                for mode, command in modes.items():
                    runs[mode].append(timed(command, env))
        finally:
            stop_server(server)
        served = log.read_text(errors="replace").count(COMPLETION_LOG)
        withdrawn = not server_file(home).exists()

    console.print(table(runs))
    for mode, answer in answers.items():
        console.print(f"{mode} answer: {answer!r}")
    first = {mode: statistics.median(r.first_token for r in done) for mode, done in runs.items()}
    total = {mode: statistics.median(r.exit for r in done) for mode, done in runs.items()}
    console.print(
        f"in-process / resident: first token {first['in-process'] / first['resident server']:.1f}x,"
        f" exit {total['in-process'] / total['resident server']:.1f}x"
    )
    console.print(f"server file removed on exit: {'yes' if withdrawn else 'NO'}")
    if served < args.runs + 1:
        console.print(f"the server answered {served} asks, not {args.runs + 1}: NOT resident")
        return 1
    resident = first["resident server"]
    verdict = "meets" if resident <= TARGET_SECONDS else "MISSES"
    console.print(
        f"resident median to first token {resident:.2f} s: {verdict} the target of "
        f"<= {TARGET_SECONDS} s"
    )
    return 0 if resident <= TARGET_SECONDS and withdrawn else 1


if __name__ == "__main__":
    raise SystemExit(main())
