"""`dtype = "auto"`: the base model's dtype chosen by measurement on the machine at hand.

Which dtype decodes fastest depends on the CPU: on a 2-core Xeon bfloat16 decoded slower
than float32 at batch size 1 (27.9 vs 30.4 tok/s), elsewhere it is about twice as fast.
"int4" (float32 with one-token steps on the GGUF's own 4-bit weights, `models.int4`) needs
a CPU kernel that is fast on some machines and not others, and a model whose weights are
4-bit. So on first start the loader runs a short probe, once per model and machine:

1. every candidate (float32, bfloat16, int4) is loaded and warmed up, then each answers a few
   fixed questions greedily through the product's decode loop
   (`models.generate.stream_token_ids`: `NEW_TOKENS` tokens, the answer being those
   before EOS), the candidates taking turns question by question so that a load spike
   on the machine hits them alike; a candidate's speed is one over its median decode
   step (prefill excluded);
2. a candidate whose greedy answer differs from float32's (the reference) on any question
   is not eligible: a faster path must keep the product's answers (issue #21, point 2);
3. the fastest eligible candidate wins, if it beats float32 by 5% (`MARGIN`; within
   the noise the reference stays); float32 always is eligible, so there is a winner.

A candidate the model cannot be (int4 for weights that are not 4-bit) is left out. It
takes a few seconds on SmolLM2-135M (two extra loads, 48 tokens per candidate) and holds
the candidates' weights together meanwhile. The result is cached as 0600 JSON under
`<cache dir>/dtype-probe/`, keyed by the model's fingerprint, the torch version, the CPU
(model name and the flags that matter to bfloat16 kernels), torch's thread count and the
probe's version: later starts read it instantly, and a new torch, CPU or thread count
probes again, as does a start that finds the machine quiet when the cached figures were
taken on a busy one (load average above the CPU count); `eyla info --reprobe` forgets
the results. No question starts after `BUDGET_S` seconds, so an overloaded machine cuts
the probe short rather than stalling the start. An explicit `dtype` setting never
probes. `eyla info` prints `DtypeChoice.describe()`.

The decode function is injectable (`decode=`), so tests choose the timings and the tokens
instead of depending on the machine.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ValidationError
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from eyla.errors import EylaError

log = logging.getLogger(__name__)

DtypeName = Literal["float32", "bfloat16", "int4"]
# what each name loads as; "int4" is float32 with 4-bit one-token steps (`models.int4`)
TORCH_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "int4": torch.float32,
}
# float32 first: it is the reference the others must agree with
CANDIDATES: tuple[DtypeName, ...] = ("float32", "bfloat16", "int4")
REFERENCE: DtypeName = "float32"
# bump when the probe changes what it measures: cached results then go stale
PROBE_VERSION = 3
QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Who wrote Romeo and Juliet?",
)
# decoded for every question, whenever the answer ends: the timing gets as many steps
NEW_TOKENS = 12
WARMUP_TOKENS = 2
# seconds of measuring after which no further question starts (the first always runs);
# a probe cut short keeps float32, as no other candidate was checked on every question
BUDGET_S = 8.0
# another dtype must beat float32 by this factor: within noise the reference stays
MARGIN = 1.05
# CPU features that decide how fast bfloat16 matrix kernels run
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
CACHE_SUBDIR = "dtype-probe"

Loaded = tuple[PreTrainedModel, PreTrainedTokenizerBase]


class CandidateUnavailable(EylaError):
    """This model cannot be loaded as this candidate (int4 for weights that are not 4-bit):
    the probe leaves it out; asked for explicitly, it is the user's error."""


# loads the model as the named candidate (raising when it cannot be that)
Loader = Callable[[DtypeName], Loaded]


class Decoded(BaseModel):
    """One greedy answer: its tokens up to EOS, and the seconds each decode step after the
    first token took."""

    tokens: list[int]
    step_seconds: list[float]


# (model, prompt ids [1, L], EOS ids, tokens to decode) -> the answer
Decode = Callable[[PreTrainedModel, torch.Tensor, set[int], int], Decoded]


class ProbeKey(BaseModel):
    """What a cached result is valid for: a change in any field probes again."""

    probe_version: int = PROBE_VERSION
    fingerprint: str
    torch: str
    cpu: str
    cpu_flags: list[str]
    threads: int

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class CandidateRun(BaseModel):
    """One candidate's measurement. `tokens_per_second` is None when it failed to run;
    `same_answers` is None when the time budget ran out before every question was asked."""

    dtype: DtypeName
    tokens_per_second: float | None = None
    same_answers: bool | None = False
    error: str | None = None

    @property
    def eligible(self) -> bool:
        return self.tokens_per_second is not None and self.same_answers is True

    def describe(self) -> str:
        if self.tokens_per_second is None:
            return f"{self.dtype} failed ({self.error})"
        text = f"{self.dtype} {self.tokens_per_second:.1f} tok/s"
        if self.same_answers is None:
            return f"{text} but not checked on every question"
        return text if self.same_answers else f"{text} but different greedy answers"


class ProbeResult(BaseModel):
    key: ProbeKey
    chosen: DtypeName
    runs: list[CandidateRun]
    measured_at: datetime
    questions: int = len(QUESTIONS)  # fewer when the time budget ran out
    # 1-minute load average and CPU count when measured: a busy machine skews the figures,
    # so a result measured busy is measured again at a start that finds the machine quiet
    load_average: float | None = None
    cpus: int | None = None

    @property
    def busy(self) -> bool:
        return is_busy(self.load_average, self.cpus)

    def describe(self) -> str:
        """'probe 2026-12-06: float32 31.2 tok/s, bfloat16 27.8 tok/s; same greedy answers'"""
        runs = ", ".join(run.describe() for run in self.runs)
        notes = ["same greedy answers"] if all(run.eligible for run in self.runs) else []
        if self.questions < len(QUESTIONS):
            notes.append(f"{self.questions} of {len(QUESTIONS)} questions in the time budget")
        if self.busy:
            notes.append(f"machine busy, load {self.load_average:.1f} on {self.cpus} CPUs")
        return f"probe {self.measured_at:%Y-%m-%d}: " + "; ".join([runs, *notes])


class DtypeChoice(BaseModel):
    """The dtype the base model was loaded in, and why."""

    dtype: DtypeName
    origin: Literal["setting", "probe", "cached probe"]
    probe: ProbeResult | None = None

    def describe(self, setting_source: str = "set explicitly") -> str:
        """For `eyla info`: 'auto: float32 (probe ...)', or 'bfloat16 (set by EYLA_DTYPE)'
        with `setting_source` saying where an explicit dtype came from."""
        if self.probe is None:
            return f"{self.dtype} ({setting_source})"
        return f"auto: {self.dtype} ({self.probe.describe()})"


def load_average() -> float | None:
    """The 1-minute load average, where the OS reports one."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def is_busy(load: float | None, cpus: int | None) -> bool:
    return load is not None and load > (cpus or 1)


def cpu_signature() -> tuple[str, list[str]]:
    """(CPU model name, the `CPU_FLAGS` it has), from /proc/cpuinfo where there is one."""
    name, flags = platform.processor() or platform.machine(), set[str]()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                field, _, value = line.partition(":")
                field = field.strip()
                if field == "model name":
                    name = value.strip()
                elif field in ("flags", "Features"):
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return name, [flag for flag in CPU_FLAGS if flag in flags]


def probe_key(fingerprint: str) -> ProbeKey:
    cpu, flags = cpu_signature()
    return ProbeKey(
        fingerprint=fingerprint,
        torch=str(torch.__version__),
        cpu=cpu,
        cpu_flags=flags,
        threads=torch.get_num_threads(),
    )


def cache_file(cache_dir: Path, key: ProbeKey) -> Path:
    return cache_dir / CACHE_SUBDIR / f"{key.digest()[:32]}.json"


def read_cached(cache_dir: Path, key: ProbeKey) -> ProbeResult | None:
    """The cached result for `key`, or None when there is none or it is unreadable."""
    path = cache_file(cache_dir, key)
    try:
        result = ProbeResult.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None
    return result if result.key == key else None


def write_cached(cache_dir: Path, result: ProbeResult) -> None:
    """Write the result 0600, atomically; a cache that cannot be written only costs a probe
    at the next start."""
    path = cache_file(cache_dir, result.key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(result.model_dump_json(indent=2))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("could not cache the dtype probe at %s: %s", path, exc)


def forget(cache_dir: Path) -> None:
    """Drop every cached probe result under `cache_dir`: the next "auto" start measures."""
    shutil.rmtree(cache_dir / CACHE_SUBDIR, ignore_errors=True)


def prompt_ids(tokenizer: PreTrainedTokenizerBase) -> list[torch.Tensor]:
    """The fixed questions as the product prompts them: the chat template where there is one."""
    from models.generate import encode_chat

    if getattr(tokenizer, "chat_template", None):
        return [
            encode_chat(tokenizer, [{"role": "user", "content": q}], 256).input_ids
            for q in QUESTIONS
        ]
    return [tokenizer(q, return_tensors="pt").input_ids for q in QUESTIONS]


@torch.inference_mode()
def timed_greedy(
    model: PreTrainedModel, ids: torch.Tensor, eos_ids: set[int], new_tokens: int
) -> Decoded:
    """A greedy answer through the product's decode loop. Decoding goes on past EOS to
    `new_tokens`, each step timed; the answer is the tokens before EOS."""
    from eyla.config import DecodingConfig
    from models.generate import stream_token_ids

    greedy = DecodingConfig(max_new_tokens=new_tokens, temperature=0.0, repetition_penalty=1.0)
    tokens: list[int] = []
    steps: list[float] = []
    last = 0.0
    for token in stream_token_ids(model, ids, greedy, eos_ids=set()):
        now = time.perf_counter()
        if tokens:
            steps.append(now - last)
        tokens.append(token)
        last = now
    end = next((i for i, token in enumerate(tokens) if token in eos_ids), len(tokens))
    return Decoded(tokens=tokens[:end], step_seconds=steps)


def run_probe(
    load: Loader,
    key: ProbeKey,
    *,
    decode: Decode | None = None,
    candidates: Sequence[DtypeName] = CANDIDATES,
    budget_s: float = BUDGET_S,
) -> tuple[ProbeResult, dict[DtypeName, Loaded]]:
    """Measure the candidates; return the result and the candidates still loaded (those
    that ran), so the caller keeps the winner without loading it again. No question
    starts after `budget_s` seconds of measuring; the first always runs."""
    from models.generate import eos_token_ids

    decode = decode or timed_greedy
    loaded: dict[DtypeName, Loaded] = {}
    errors: dict[DtypeName, str] = {}
    unavailable: set[DtypeName] = set()

    def fail(name: DtypeName, exc: Exception) -> None:
        if name == REFERENCE:
            raise exc
        log.warning("dtype probe: %s failed: %s", name, exc)
        errors[name] = _first_line(exc)
        loaded.pop(name, None)

    for name in candidates:
        try:
            loaded[name] = load(name)
        except CandidateUnavailable as exc:
            log.info("dtype probe: %s left out: %s", name, exc)
            unavailable.add(name)
        except Exception as exc:  # a dtype this CPU or model cannot run is not eligible
            fail(name, exc)
    model, tokenizer = loaded[REFERENCE]
    prompts = prompt_ids(tokenizer)
    eos = eos_token_ids(tokenizer, model)
    start = time.perf_counter()
    for name in list(loaded):
        try:
            decode(loaded[name][0], prompts[0], eos, WARMUP_TOKENS)  # first calls, page-in
        except Exception as exc:
            fail(name, exc)
    answers: dict[DtypeName, list[list[int]]] = {name: [] for name in loaded}
    steps: dict[DtypeName, list[float]] = {name: [] for name in loaded}
    questions = 0
    for i, ids in enumerate(prompts):
        if i and time.perf_counter() - start > budget_s:
            log.warning(
                "dtype probe: time budget spent after %d of %d questions; keeping float32",
                i,
                len(prompts),
            )
            break
        # take turns, first one way then the other, so drifting load hits each alike
        for name in list(loaded) if i % 2 == 0 else list(reversed(loaded)):
            try:
                decoded = decode(loaded[name][0], ids, eos, NEW_TOKENS)
            except Exception as exc:
                fail(name, exc)
                continue
            answers[name].append(decoded.tokens)
            steps[name].extend(decoded.step_seconds)
        questions += 1
    runs = []
    for name in candidates:
        if name in unavailable:
            continue
        if name in errors:
            runs.append(CandidateRun(dtype=name, error=errors[name]))
            continue
        median = statistics.median(steps[name]) if steps[name] else float("inf")
        same: bool | None = answers[name] == answers[REFERENCE]
        if name != REFERENCE and questions < len(prompts) and same:
            same = None  # agreed so far, but not on every question
        runs.append(
            CandidateRun(dtype=name, tokens_per_second=1.0 / max(median, 1e-9), same_answers=same)
        )
    result = ProbeResult(
        key=key,
        chosen=pick(runs),
        runs=runs,
        measured_at=datetime.now(UTC),
        questions=questions,
        load_average=load_average(),
        cpus=os.cpu_count(),
    )
    return result, loaded


def pick(runs: Sequence[CandidateRun]) -> DtypeName:
    """The fastest eligible candidate; another dtype than float32 only when it is faster
    by `MARGIN`."""
    speed = {run.dtype: run.tokens_per_second or 0.0 for run in runs if run.eligible}
    best = max(speed, key=lambda name: speed[name])
    return best if speed[best] > MARGIN * speed[REFERENCE] else REFERENCE


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def load_auto(
    load: Loader, fingerprint: str, cache_dir: Path, *, decode: Decode | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, DtypeChoice]:
    """Load in the dtype the cached probe chose for this model and machine, probing first
    when there is no cached result."""
    key = probe_key(fingerprint)
    cached = read_cached(cache_dir, key)
    if cached is not None and cached.busy and not is_busy(load_average(), os.cpu_count()):
        log.info("the cached dtype probe ran on a busy machine; measuring again")
        cached = None
    if cached is not None:
        model, tokenizer = load(cached.chosen)
        choice = DtypeChoice(dtype=cached.chosen, origin="cached probe", probe=cached)
        return model, tokenizer, choice
    log.info("measuring which dtype decodes fastest here (once per model and machine)")
    result, loaded = run_probe(load, key, decode=decode)
    write_cached(cache_dir, result)
    model, tokenizer = loaded.pop(result.chosen)
    loaded.clear()  # the losers' weights go now
    return model, tokenizer, DtypeChoice(dtype=result.chosen, origin="probe", probe=result)
