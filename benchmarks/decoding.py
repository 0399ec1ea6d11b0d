"""Choose default decoding by measurement: loops and accuracy per decoding setting.

SmolLM2-135M falls into loops under plain greedy decoding. For each candidate setting
this prints the share of replies that loop (a word 4-gram occurring 3+ times), the mean
share of distinct 4-grams, and accuracy on short factual questions, on the same prompts
in the same run. The `eyla.config.DecodingConfig` defaults are the row marked `default`.

    .venv/bin/python -m benchmarks.decoding [--max-new-tokens 160]
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.progress import track
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.config import DecodingConfig, Settings
from models.eyla_model import EylaModel
from models.loading import load_base

OPEN_PROMPTS = [
    "Who are you?",
    "Tell me about yourself.",
    "What do you think about the future of artificial intelligence?",
    "I feel sad today. Can you help?",
    "Write a short story about a robot.",
    "Why do people need sleep?",
    "Describe your ideal day.",
    "What are your values?",
]
FACTS = [
    ("What is the capital of France?", "paris"),
    ("What is the capital of Japan?", "tokyo"),
    ("How many days are in a week?", "7|seven"),
    ("What color is the sky on a clear day?", "blue"),
    ("What is the largest planet in the solar system?", "jupiter"),
    ("What is the boiling point of water in Celsius?", "100"),
]
CANDIDATES = {
    "greedy": DecodingConfig(temperature=0.0, repetition_penalty=1.0),
    "greedy, penalty 1.2": DecodingConfig(temperature=0.0, repetition_penalty=1.2),
    "t=0.7 p=0.9": DecodingConfig(temperature=0.7, top_p=0.9, repetition_penalty=1.0),
    "t=0.3 p=0.9 penalty 1.1": DecodingConfig(temperature=0.3, top_p=0.9, repetition_penalty=1.1),
    "default": DecodingConfig(),
}


def loops(text: str, n: int = 4, times: int = 3) -> bool:
    words = text.lower().split()
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return bool(grams) and max(grams.values()) >= times


def distinct(text: str, n: int = 4) -> float:
    words = text.lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=160)
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    base = load_base("embedded", cache_dir=Settings().cache_dir)
    model = EylaModel(base)

    table = Table(title=f"decoding settings, {len(OPEN_PROMPTS)} open prompts + {len(FACTS)} facts")
    for col in ("setting", "looping replies", "distinct 4-grams", "fact accuracy"):
        table.add_column(col, justify="right")
    for name, cfg in track(CANDIDATES.items(), description="decoding"):
        cfg = cfg.model_copy(update={"max_new_tokens": args.max_new_tokens})
        replies = [_reply(model, p, cfg) for p in OPEN_PROMPTS]
        facts = [_reply(model, q, cfg.model_copy(update={"max_new_tokens": 40})) for q, _ in FACTS]
        correct = sum(
            any(a in r.lower() for a in ans.split("|"))
            for r, (_, ans) in zip(facts, FACTS, strict=True)
        )
        table.add_row(
            name,
            f"{sum(map(loops, replies))}/{len(replies)}",
            f"{sum(map(distinct, replies)) / len(replies):.2f}",
            f"{correct}/{len(FACTS)}",
        )
    Console().print(table)


def _reply(model: EylaModel, prompt: str, cfg: DecodingConfig) -> str:
    return "".join(model.stream([{"role": "user", "content": prompt}], cfg))


if __name__ == "__main__":
    main()
