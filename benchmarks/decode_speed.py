"""Decode speed with every subsystem of the shipped set on, beside llama.cpp, in one run.

Rows (greedy, the same chat prompt, median decode step after the first token):
  llama.cpp        the same GGUF through llama-cpp-python, when it is installed
                   (`.venv/bin/pip install llama-cpp-python`, a source build of a few
                   minutes); it runs in a child process, because its batched prefill
                   crashes on some CPUs with AMX: after a crash it is measured again with
                   `n_batch=1` (decode is one token per call either way)
  transformers     float32 `generate` on the bare base (no subsystems)
  Eyla float32     the shipped set on, through the product's decode loop
  Eyla int4        the same on the GGUF's own 4-bit weights (`models/int4.py`)
  Eyla int4, sampled  the same with the default decoding (temperature, top-p, repetition
                   penalty: what a user gets), seed 0
  long chat        Eyla int4 after a conversation of about 1,500 tokens, with Eyla's
                   cache (`models/kv_cache.py`) and with transformers' `DynamicCache`,
                   which copies the whole cache at every step
The rows take turns, once per repeat, so load from other processes falls on all alike.
Prints tokens/s and the ratios issue #21 asks for: Eyla int4 over Eyla float32 (at least
2.5x) and over llama.cpp (at least 0.3x; the aim 0.5x); exits 1 when one is missed, or 2
when llama.cpp is not installed (the first ratio is printed all the same).

    .venv/bin/python -m benchmarks.decode_speed [--tokens 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from rich.console import Console
from rich.table import Table
from transformers import Cache, DynamicCache
from transformers.utils import logging as hf_logging

from eyla.config import DecodingConfig, Settings
from models.eyla_model import EylaModel, load_eyla_model
from models.generate import encode_chat, stream_token_ids
from models.loading import embedded_gguf, load_base

DECODE_TARGET = 2.5
LLAMA_CPP_TARGET = 0.3
LLAMA_CPP, BARE, FLOAT32, INT4 = "llama.cpp", "transformers float32", "Eyla float32", "Eyla int4"
SAMPLED = "Eyla int4, sampled"
LONG, LONG_DYNAMIC = "Eyla int4, long chat", "Eyla int4, long chat, DynamicCache"
MESSAGES = [
    {
        "role": "system",
        "content": "You are Eyla, an AI assistant made by the Eyla open-source project.",
    },
    {"role": "user", "content": "Tell me, in a few sentences, how bread rises."},
]
EARLIER_TURN = "Bread rises because yeast eats the sugars in the dough and gives off gas. " * 12
LONG_CHAT = [
    MESSAGES[0],
    *({"role": role, "content": EARLIER_TURN} for role in ("user", "assistant") * 4),
    MESSAGES[1],
]


def step_seconds(tokens: Iterator[int], count: int) -> list[float]:
    """Seconds between consecutive tokens of `tokens` (the first token's prefill excluded)."""
    steps, last = [], None
    for i, _ in enumerate(tokens):
        now = time.perf_counter()
        if last is not None:
            steps.append(now - last)
        last = now
        if i + 1 == count:
            break
    return steps


def greedy(count: int) -> DecodingConfig:
    return DecodingConfig(max_new_tokens=count, temperature=0.0, repetition_penalty=1.0)


def eyla_steps(
    eyla: EylaModel,
    ids: torch.Tensor,
    count: int,
    cfg: DecodingConfig | None = None,
    cache: Cache | None = None,
) -> list[float]:
    cfg = cfg or greedy(count)
    return step_seconds(stream_token_ids(eyla, ids, cfg, eos_ids=set(), cache=cache), count)


@torch.inference_mode()
def bare_steps(model, ids: torch.Tensor, count: int) -> list[float]:
    """`generate` gives no per-token times: (total - first token) / (count - 1), per step."""
    kwargs = {"do_sample": False, "pad_token_id": 0, "min_new_tokens": 1}
    start = time.perf_counter()
    model.generate(ids, max_new_tokens=1, **kwargs)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.generate(ids, max_new_tokens=count, **(kwargs | {"min_new_tokens": count}))
    total = time.perf_counter() - start
    return [(total - first) / (count - 1)] * (count - 1)


def llama_cpp_steps(ids: list[int], count: int, threads: int) -> tuple[list[float], str]:
    """llama.cpp's decode steps, from a child process; (steps, how it was run)."""
    for n_batch in (512, 1):
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.decode_speed", "--llama-cpp-child"],
            input=json.dumps({"ids": ids, "count": count, "threads": threads, "n_batch": n_batch}),
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode == 0:
            return json.loads(child.stdout.splitlines()[-1]), f"n_batch={n_batch}"
    raise RuntimeError(f"llama.cpp failed: {child.stderr.strip().splitlines()[-1:]}")


def llama_cpp_child() -> None:
    from llama_cpp import Llama

    job = json.loads(sys.stdin.read())
    llm = Llama(
        model_path=str(embedded_gguf()),
        n_ctx=2048,
        n_threads=job["threads"],
        n_batch=job["n_batch"],
        verbose=False,
    )
    tokens = llm.generate(job["ids"], temp=0.0, top_k=1, repeat_penalty=1.0)
    print(json.dumps(step_seconds(tokens, job["count"])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=Settings().cache_dir)
    parser.add_argument("--llama-cpp-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_cpp_child:
        llama_cpp_child()
        return 0
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    console = Console(width=110)
    threads = torch.get_num_threads()

    home = args.cache_dir.parent
    eylas = {
        name: load_eyla_model(Settings(home=home, dtype=dtype))
        for name, dtype in ((FLOAT32, "float32"), (INT4, "int4"))
    }
    bare = load_base("embedded", cache_dir=args.cache_dir, dtype="float32").model
    ids = encode_chat(eylas[FLOAT32].tokenizer, MESSAGES, 1024).input_ids
    long_ids = encode_chat(eylas[FLOAT32].tokenizer, LONG_CHAT, 2048).input_ids
    has_llama_cpp = find_spec("llama_cpp") is not None
    sampled = DecodingConfig(max_new_tokens=args.tokens, seed=0)
    runs: dict[str, Callable[[], list[float]]] = {
        BARE: lambda: bare_steps(bare, ids, args.tokens),
        FLOAT32: lambda: eyla_steps(eylas[FLOAT32], ids, args.tokens),
        INT4: lambda: eyla_steps(eylas[INT4], ids, args.tokens),
        SAMPLED: lambda: eyla_steps(eylas[INT4], ids, args.tokens, sampled),
        LONG: lambda: eyla_steps(eylas[INT4], long_ids, args.tokens),
        LONG_DYNAMIC: lambda: eyla_steps(eylas[INT4], long_ids, args.tokens, cache=DynamicCache()),
    }
    how = ""
    if has_llama_cpp:

        def llama_cpp() -> list[float]:
            nonlocal how
            steps, how = llama_cpp_steps(ids[0].tolist(), args.tokens, threads)
            return steps

        runs = {LLAMA_CPP: llama_cpp} | runs
    for run in runs.values():
        run()  # warm-up: first calls, page-in
    steps: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in order:
            steps[name].extend(runs[name]())
    speed = {name: 1.0 / statistics.median(times) for name, times in steps.items()}

    table = Table(
        title=f"SmolLM2-135M, {ids.shape[1]}-token prompt ({long_ids.shape[1]} in the long "
        f"chat), {args.repeats} x {args.tokens} tokens, median step, {threads} threads"
    )
    for column in ("engine", "decode tok/s", "vs Eyla float32", "vs llama.cpp"):
        table.add_column(column, justify="right")
    for name, tps in speed.items():
        table.add_row(
            name + (f" ({how})" if name == LLAMA_CPP else ""),
            f"{tps:.1f}",
            f"{tps / speed[FLOAT32]:.2f}x",
            f"{tps / speed[LLAMA_CPP]:.2f}x" if has_llama_cpp else "-",
        )
    console.print(table)
    console.print(
        f"long chat, Eyla's cache / DynamicCache: {speed[LONG] / speed[LONG_DYNAMIC]:.2f}x"
    )

    ok = speed[INT4] / speed[FLOAT32] >= DECODE_TARGET
    console.print(
        f"Eyla int4 / Eyla float32: {speed[INT4] / speed[FLOAT32]:.2f}x "
        f"({'meets' if ok else 'MISSES'} {DECODE_TARGET}x)"
    )
    if not has_llama_cpp:
        console.print(
            "llama.cpp not installed: `.venv/bin/pip install llama-cpp-python` to measure it"
        )
        return 2
    ratio = speed[INT4] / speed[LLAMA_CPP]
    console.print(
        f"Eyla int4 / llama.cpp: {ratio:.2f}x "
        f"({'meets' if ratio >= LLAMA_CPP_TARGET else 'MISSES'} {LLAMA_CPP_TARGET}x)"
    )
    return 0 if ok and ratio >= LLAMA_CPP_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
