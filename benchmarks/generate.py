"""Generation speed of Eyla's decode loop beside bare `transformers` generate.

Prints, for each dtype: time to first token and decode tokens/s of our streaming path and
of `model.generate` on the same prompt in the same run, and their ratio; whether greedy
answers agree between dtypes; and cold (GGUF conversion) vs warm (cache hit) start.

    .venv/bin/python -m benchmarks.generate [--tokens 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from rich.console import Console
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.config import DecodingConfig
from models.generate import encode_chat, stream_token_ids
from models.loading import BaseModel, load_base

PROMPT = "Explain in a few sentences why the sky is blue."
QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "What is 7 times 8?",
    "Who wrote Romeo and Juliet?",
    "What gas do plants absorb from the air?",
]


def ours(base: BaseModel, ids: torch.Tensor, n: int) -> tuple[float, float, list[int]]:
    """(time to first token, decode tokens/s after the first, tokens) for our loop."""
    cfg = DecodingConfig(max_new_tokens=n, temperature=0.0, repetition_penalty=1.0)
    start = time.perf_counter()
    tokens, first = [], 0.0
    for token in stream_token_ids(base.model, ids, cfg, eos_ids=set()):
        if not tokens:
            first = time.perf_counter() - start
        tokens.append(token)
    total = time.perf_counter() - start
    return first, (len(tokens) - 1) / (total - first), tokens


@torch.inference_mode()
def bare(base: BaseModel, ids: torch.Tensor, n: int) -> tuple[float, float]:
    """(time to first token, decode tokens/s after the first) for `model.generate`."""
    kwargs = {"do_sample": False, "pad_token_id": base.tokenizer.eos_token_id}
    start = time.perf_counter()
    base.model.generate(ids, max_new_tokens=1, min_new_tokens=1, **kwargs)
    first = time.perf_counter() - start
    start = time.perf_counter()
    base.model.generate(ids, max_new_tokens=n, min_new_tokens=n, **kwargs)
    total = time.perf_counter() - start
    return first, (n - 1) / (total - first)


def greedy_answer(base: BaseModel, question: str) -> str:
    ids = encode_chat(base.tokenizer, [{"role": "user", "content": question}], 512).input_ids
    cfg = DecodingConfig(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)
    eos = {base.tokenizer.eos_token_id, base.tokenizer.convert_tokens_to_ids("<|im_end|>")}
    return base.tokenizer.decode(list(stream_token_ids(base.model, ids, cfg, eos)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    console = Console()

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        load_base("embedded", cache_dir=Path(tmp), dtype="float32")
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_base("embedded", cache_dir=Path(tmp), dtype="bfloat16")
        warm = time.perf_counter() - start

        speed = Table(title=f"decode, {args.tokens} tokens, median of {args.repeats}")
        for col in ("dtype", "TTFT ours s", "TTFT bare s", "tok/s ours", "tok/s bare", "ratio"):
            speed.add_column(col, justify="right")
        answers: dict[str, list[str]] = {}
        for dtype in ("float32", "bfloat16"):
            base = load_base("embedded", cache_dir=Path(tmp), dtype=dtype)
            ids = encode_chat(base.tokenizer, [{"role": "user", "content": PROMPT}], 512).input_ids
            ours(base, ids, 4)  # warm-up
            bare(base, ids, 4)
            runs_ours = [ours(base, ids, args.tokens)[:2] for _ in range(args.repeats)]
            runs_bare = [bare(base, ids, args.tokens) for _ in range(args.repeats)]
            ttft_o, tps_o = (statistics.median(x) for x in zip(*runs_ours, strict=True))
            ttft_b, tps_b = (statistics.median(x) for x in zip(*runs_bare, strict=True))
            speed.add_row(
                dtype,
                f"{ttft_o:.3f}",
                f"{ttft_b:.3f}",
                f"{tps_o:.1f}",
                f"{tps_b:.1f}",
                f"{tps_o / tps_b:.2f}x",
            )
            answers[dtype] = [greedy_answer(base, q) for q in QUESTIONS]

    console.print(speed)
    agree = Table(title="greedy answers, float32 vs bfloat16")
    for col in ("question", "float32", "bfloat16"):
        agree.add_column(col)
    for q, a32, a16 in zip(QUESTIONS, answers["float32"], answers["bfloat16"], strict=True):
        agree.add_row(q, a32.strip(), a16.strip())
    console.print(agree)
    console.print(f"cold start (GGUF conversion + cache write): {cold:.1f} s")
    console.print(f"warm start (cache hit): {warm:.1f} s  ratio {cold / warm:.1f}x faster")


if __name__ == "__main__":
    main()
