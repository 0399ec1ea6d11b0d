"""`eyla probe --target openai:URL` against `eyla serve --ephemeral` measures what
`--target eyla` measures: with the same seed, the same replies and so the same scores.

The fast tests run both sides on `DigestModel`, whose reply carries a digest of its whole
prompt and decoding settings, so any difference in what either side remembers, quotes or
sends would show as a different reply. The integration test runs the real thing: the
embedded model and embedder, `eyla serve --ephemeral` in its own process, `eyla probe`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

from eyla.agent import Agent
from eyla.config import DecodingConfig, Settings
from eyla.identity import IdentitySpec, load_identity
from eyla.probes.cli import probe
from eyla.probes.judge import RubricJudge
from eyla.probes.records import RunConfig
from eyla.probes.runner import Runner
from eyla.probes.suites import load_suite
from eyla.probes.targets import build_targets
from eyla.server.app import create_app
from eyla.server.conversations import Conversations, SharedStore, ThrowawayStores
from memory.store import MemoryStore
from tests.fakes import DigestModel, HashingEmbedder
from tests.server.helpers import serving

# one item per ICS-50 category (the escalation item has five turns, each remembered), and
# two gaslighting items, which open with a seeded transcript
SUITES = {"ics-50": 5, "gaslighting": 2}
SEED = 3

Replies = dict[tuple[str, str, int], str]
Serve = Callable[[Settings, IdentitySpec], AbstractContextManager[Conversations]]


def probe_settings() -> Settings:
    """Recall quotes every stored memory, so any memory one side has and the other lacks
    reaches the prompt."""
    settings = Settings()
    settings.decoding = DecodingConfig(max_new_tokens=12, seed=SEED)
    settings.agent = settings.agent.model_copy(update={"min_relevance": -1.0})
    return settings


def report(path: Path) -> tuple[dict[str, Replies], dict[str, dict[str, float]]]:
    """Each target's reply per (suite, item, turn), and the summary's scores."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    replies: dict[str, Replies] = {}
    for row in rows:
        if row["entry_type"] == "attempt":
            key = (row["suite"], row["item"], row["turn"])
            replies.setdefault(row["target"], {})[key] = row["response"]
    return replies, rows[-1]["scores"]


def probe_both(out: Path, serve: Serve) -> tuple[list[Replies], list[dict[str, float]]]:
    """The `eyla` target and the `openai` target on a server over `serve`'s conversations,
    through the probe runner; their replies and scores, in that order."""
    spec, settings = load_identity(), probe_settings()
    suites = [load_suite(name).rendered(spec).limited(n) for name, n in SUITES.items()]
    config = RunConfig(seed=SEED, decoding=settings.decoding.model_dump(), identity={})
    with serve(settings, spec) as conversations, serving(create_app(conversations)) as url:
        names = ["eyla", f"openai:{url}"]
        targets = build_targets(
            names, settings, spec, out / "memory", DigestModel, embedder=HashingEmbedder()
        )
        result = Runner(targets, suites, RubricJudge(spec), config, out).run()
    replies, scores = report(result.report)
    return [replies[n] for n in names], [scores[n] for n in names]


@contextmanager
def ephemeral(settings: Settings, spec: IdentitySpec) -> Iterator[Conversations]:
    with ThrowawayStores(DigestModel(), spec, settings, HashingEmbedder()) as stores:
        yield stores


@contextmanager
def one_store(settings: Settings, spec: IdentitySpec, home: Path) -> Iterator[Conversations]:
    with MemoryStore.open(home, settings.memory, HashingEmbedder()) as store:
        yield SharedStore(Agent(DigestModel(), store, spec, settings))


def test_openai_target_on_an_ephemeral_server_scores_as_the_eyla_target(tmp_path: Path):
    (eyla, served), (eyla_ics, served_ics) = probe_both(tmp_path, ephemeral)
    assert served == eyla
    assert len(eyla) == 4 + 5 + 2  # four single prompts, a five-turn escalation, two items
    # every prompt differed, so this compared what each side was asked, turn by turn
    assert len(set(eyla.values())) == len(eyla)
    assert served_ics == eyla_ics and set(eyla_ics) == set(SUITES)


def test_a_server_that_keeps_one_memory_is_not_measured_the_same(tmp_path: Path):
    """Without --ephemeral, what one probe conversation told Eyla is recalled in the next,
    which the `eyla` target's fresh memory per conversation never does."""

    def serve(settings: Settings, spec: IdentitySpec) -> AbstractContextManager[Conversations]:
        return one_store(settings, spec, tmp_path / "home")

    (eyla, served), _scores = probe_both(tmp_path / "run", serve)
    first = ("ics-50", "baseline-01", 0)
    assert served[first] == eyla[first]  # nothing to recall yet
    assert served != eyla


# -- the real thing ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, server: subprocess.Popen[str], timeout: float = 180) -> bool:
    """Whether the server at `url` answers before its process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while server.poll() is None and time.monotonic() < deadline:
        try:
            return httpx.get(f"{url}/models", timeout=2).status_code == 200
        except httpx.TransportError:
            time.sleep(0.5)
    return False


@contextmanager
def eyla_serve(*args: str) -> Iterator[str]:
    """`eyla serve ARGS` in its own process on a free loopback port; yields its /v1 URL."""
    port = free_port()
    command = "from eyla.cli import main; main()"
    server = subprocess.Popen(
        [sys.executable, "-c", command, "serve", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        if not answers(url, server):
            server.kill()
            raise RuntimeError(f"eyla serve did not start: {server.communicate()[1]}")
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=30)


@pytest.mark.integration
def test_probe_openai_against_eyla_serve_gives_the_same_ics_as_eyla(home_with_model, tmp_path):
    """The issue's words: `eyla probe --target openai:http://127.0.0.1:PORT/v1` against
    `eyla serve` gives the same ICS as `--target eyla` with the same seed."""
    out = tmp_path / "run"
    with eyla_serve("--ephemeral") as url:
        target = f"openai:{url}"
        probe(target=["eyla", target], out=out, limit=2, seed=SEED, max_new_tokens=40)
    replies, scores = report(out / "report.jsonl")
    print(f"\nICS-50 eyla {scores['eyla']}, {target} {scores[target]}")
    assert replies[target] == replies["eyla"] and len(replies["eyla"]) == 2
    assert scores[target] == scores["eyla"]
    # the server remembered nothing in the data dir
    assert not (home_with_model / "eyla.db").exists()
