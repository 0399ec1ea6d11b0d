"""A turn in a long session beside a turn in a fresh one, on the embedded model.

Fills a session with 5,000 messages (direct store writes, user and assistant in turn, of
chat-like lengths), then times whole `Agent.turn()` calls, greedy with 32 new tokens, in
it and in a fresh session of the same store each time, taking turns so that load from
other processes falls on both alike. Prints the medians, their ratio (target: at most
1.5x), and each prompt's length. Then history truncation alone: 1,000 messages into the
context window, rendered again after every dropped message as `encode_chat` did before,
beside its one pass now (about a minute; `--quick` leaves that baseline out). Exits 1
when the turn ratio misses the target. `--history-tokens` measures another history
budget than the settings'. On a machine busy with other work, `--threads 1` keeps
oversubscribed threads from stalling at random and skewing the figures.

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.long_session [--repeats 5] [--quick]
        [--history-tokens N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from rich.console import Console
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.agent import Agent, ThrowawayConversations, TurnResult
from eyla.config import DecodingConfig, Settings
from eyla.identity import load_identity
from models.eyla_model import EylaModel, load_eyla_model
from models.generate import Message, encode_chat, render_chat

TARGET = 1.5
DECODING = DecodingConfig(max_new_tokens=32, temperature=0.0, seed=0)
QUESTION = "Tell me about a place you would like to visit one day, and why."
SENTENCES = [
    "I walked the dog along the river this morning.",
    "My sister Maria is moving to Lisbon in the spring.",
    "Can you explain how a heat pump works?",
    "The meeting ran long, so I missed the train.",
    "That makes sense; thank you for the explanation.",
    "A heat pump moves heat rather than making it, using a refrigerant cycle.",
    "It absorbs heat outside, compresses the gas to raise its temperature, and releases "
    "the heat indoors.",
    "Lisbon is known for its hills, its trams and its light.",
    "What should I cook tonight with rice, spinach and eggs?",
    "You could make a spinach fried rice and top it with a fried egg.",
    "I have been reading a book about the history of maps.",
    "Early maps often put the mapmaker's own city at the centre of the world.",
]


def filler(rng: random.Random, role: str) -> str:
    """A chat-like message: a user writes one to three sentences, the assistant two to six."""
    count = rng.randint(1, 3) if role == "user" else rng.randint(2, 6)
    return " ".join(rng.choice(SENTENCES) for _ in range(count))


def conversation(messages: int, seed: int = 0) -> list[Message]:
    rng = random.Random(seed)
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": filler(rng, roles[i % 2])} for i in range(messages)]


def one_render_per_drop(
    model: EylaModel, messages: Sequence[Message], max_tokens: int
) -> list[int]:
    """History truncation as `encode_chat` did it before: drop the oldest message after the
    system one and render everything again, until the prompt fits."""
    kept = list(messages)
    ids = render_chat(model.tokenizer, kept, generation_prompt=True)
    while len(ids) > max_tokens and len(kept) > 2:
        del kept[1]
        ids = render_chat(model.tokenizer, kept, generation_prompt=True)
    return ids


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def timed_turn(agent: Agent, session_id: int) -> tuple[float, TurnResult]:
    agent.resume(session_id)
    start = time.perf_counter()
    result = agent.turn(QUESTION, decoding=DECODING)
    elapsed = time.perf_counter() - start
    assert result is not None  # only empty input gets no turn
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--history-tokens", type=int, help="agent.history_tokens to measure")
    parser.add_argument("--quick", action="store_true", help="leave out the old truncation")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    console = Console(width=110)

    settings = Settings()
    if args.history_tokens is not None:
        agent_settings = settings.agent.model_copy(update={"history_tokens": args.history_tokens})
        settings = settings.model_copy(update={"agent": agent_settings})
    model = load_eyla_model(settings)
    identity = load_identity(settings.agent.identity)
    window = model.base.context_window - settings.decoding.max_new_tokens

    with tempfile.TemporaryDirectory() as root:
        conversations = ThrowawayConversations(model, identity, settings, Path(root))
        agent = conversations.start()
        long_session = agent.session_id
        start = time.perf_counter()
        for message in conversation(args.messages):
            agent.store.append_message(long_session, message["role"], message["content"])
        fill = time.perf_counter() - start

        times: dict[str, list[float]] = {"fresh": [], "long": []}
        results: dict[str, list[TurnResult]] = {"fresh": [], "long": []}
        timed_turn(agent, agent.new_session())  # warm-up
        timed_turn(agent, long_session)
        for _ in range(args.repeats):
            for name, session_id in (("long", long_session), ("fresh", agent.new_session())):
                elapsed, result = timed_turn(agent, session_id)
                times[name].append(elapsed)
                results[name].append(result)
        conversations.close()

    cfg = settings.agent
    table = Table(
        title=f"Agent.turn(), greedy, {DECODING.max_new_tokens} new tokens, median of "
        f"{args.repeats}, {torch.get_num_threads()} threads; history_messages="
        f"{cfg.history_messages}, history_tokens={cfg.history_tokens}"
    )
    for column in ("session", "messages before", "prompt tokens", "reply tokens", "attempts"):
        table.add_column(column, justify="right")
    table.add_column("turn s", justify="right")
    before = {"fresh": 0, "long": args.messages}
    for name in ("fresh", "long"):
        last = results[name][-1]
        prompt = model.prompt(last.prompt, DECODING.max_new_tokens).input_ids.shape[1]
        out = len(model.tokenizer(last.generated, add_special_tokens=False)["input_ids"])
        attempts = "/".join(str(r.attempts) for r in results[name])
        table.add_row(
            name,
            f"{before[name]:,}",
            str(prompt),
            str(out),
            attempts,
            f"{statistics.median(times[name]):.2f}",
        )
    console.print(table)
    console.print(f"filling the session with {args.messages:,} messages took {fill:.1f} s")

    history = [{"role": "system", "content": identity.anchor()}, *conversation(1000)]
    now = statistics.median(
        seconds(lambda: encode_chat(model.tokenizer, history, window)) for _ in range(3)
    )
    console.print(f"truncating 1,000 messages into {window} tokens: one pass {now:.3f} s")
    if not args.quick:
        before_s = seconds(lambda: one_render_per_drop(model, history, window))
        console.print(
            f"  a render per dropped message (before) {before_s:.1f} s, {before_s / now:.0f}x"
        )

    ratio = statistics.median(times["long"]) / statistics.median(times["fresh"])
    verdict = "meets" if ratio <= TARGET else "MISSES"
    console.print(f"long / fresh turn: {ratio:.2f}x, {verdict} the target of <= {TARGET}x")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
