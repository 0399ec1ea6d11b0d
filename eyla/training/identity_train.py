"""`eyla train identity`: train every neural subsystem jointly on identity data.

The base stays frozen. Loss = cross-entropy on the identity rows' assistant turns +
`kl_weight` x KL(base || model) on neutral prompts answered by the base itself under the
teacher's system text (the brief anchor by default, a plain one with `--teacher plain`), so the
subsystems learn who Eyla is without changing how it answers everything else.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.training.batches import (
    IGNORE,
    Batch,
    Encoded,
    Row,
    collate,
    encode_conversation,
    first_answers,
)
from eyla.training.identity_config import IdentityTrainConfig, Precision
from eyla.training.identity_data import NEUTRAL_PROMPTS, QUIZ_PROMPTS, identity_examples
from models.dtype_probe import cpu_signature
from models.eyla_model import EylaModel, default_subsystems
from models.generate import Message
from models.loading import BaseModel as LoadedBase


@dataclass(frozen=True)
class TrainReport:
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    out_dir: Path


def train_identity(
    base: LoadedBase,
    spec: IdentitySpec,
    cfg: IdentityTrainConfig,
    out_dir: Path,
    work_dir: Path,
    show_progress: bool = True,
) -> TrainReport:
    """Train, checkpointing into `work_dir` (a rerun resumes there), then save the trained
    set into `out_dir`."""
    torch.manual_seed(cfg.seed)
    model = EylaModel(base)
    for subsystem in default_subsystems(base, seed=cfg.seed):
        model.add(subsystem)
    identity, neutral = training_rows(base, spec, cfg, work_dir)
    _check_batch_size(cfg, identity, neutral)
    params = model.param_groups(cfg.lr, cfg.weight_decay)
    optimizer = torch.optim.AdamW(params)
    peak_lrs = [group["lr"] for group in optimizer.param_groups]  # a resume restores the last
    checkpoint = work_dir / "checkpoint.pt"
    rng = random.Random(cfg.seed)
    start, losses = _resume(checkpoint, model, optimizer, cfg, rng)
    pad_id = base.tokenizer.pad_token_id or 0

    precision = resolved_precision(cfg.precision)
    autocast = _autocast(precision)

    began = time.perf_counter()
    try:
        with progress_bar(show_progress) as progress:
            task = progress.add_task("training identity", total=cfg.steps, completed=start)
            for step in range(start, cfg.steps):
                for group, peak in zip(optimizer.param_groups, peak_lrs, strict=True):
                    group["lr"] = peak * lr_scale(step, cfg)
                batch = sample_batch(rng, identity, neutral, cfg, pad_id)
                with autocast():
                    loss = identity_loss(model, batch, cfg.kl_weight)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                progress.update(task, advance=1, description=f"training identity  loss {loss:.3f}")
                if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
                    _save_checkpoint(checkpoint, model, optimizer, cfg, step + 1, losses, rng)
        model.system_prompt = "brief"  # what every training conversation ran under
        model.save_subsystems(out_dir)
    finally:
        model.detach_all()
    (out_dir / "training.json").write_text(
        json.dumps({"config": cfg.model_dump(), "precision": precision, "losses": losses}, indent=1)
    )
    checkpoint.unlink(missing_ok=True)
    return TrainReport(cfg.steps, time.perf_counter() - began, losses[0], losses[-1], out_dir)


def lr_scale(step: int, cfg: IdentityTrainConfig) -> float:
    """The share of the peak learning rate at `step`: a function of the step alone, so a
    resumed run follows the same schedule."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    decay_steps = max(1, cfg.steps - cfg.warmup_steps - 1)
    progress = min(1.0, (step - cfg.warmup_steps) / decay_steps)
    floor = cfg.final_lr_share
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def resolved_precision(precision: Precision) -> Literal["float32", "bfloat16"]:
    """ "auto": bfloat16 where this CPU computes bfloat16 matrix products in hardware."""
    if precision != "auto":
        return precision
    native = {"amx_bf16", "avx512_bf16"} & set(cpu_signature()[1])
    return "bfloat16" if native else "float32"


def _autocast(precision: Literal["float32", "bfloat16"]) -> Callable[[], AbstractContextManager]:
    if precision == "float32":
        return nullcontext
    return lambda: torch.autocast("cpu", dtype=torch.bfloat16)


def identity_loss(model: EylaModel, batch: Batch, kl_weight: float) -> torch.Tensor:
    """Cross-entropy on the identity rows' answer tokens + `kl_weight` x KL(base || model)
    on the neutral rows' answer tokens.

    A neutral row's text is the base's own greedy reply: cross-entropy on it sharpens the
    base's habits (trained on its reply to a bike-chain question, "I'm sorry for your
    loss...", a candidate said so to someone nervous about an exam), while the KL keeps the
    whole distribution where the base has it. The teacher reads the row under its own
    system text (`batch.teacher`), the same answer tokens."""
    mask = batch.labels != IGNORE
    rows = batch.neutral
    logits = _answer_logits(model, batch.input_ids, batch.attention_mask, mask)
    on_neutral_rows = rows[:, None].expand_as(mask)[mask]
    ce = (
        F.cross_entropy(logits[~on_neutral_rows], batch.labels[mask][~on_neutral_rows])
        if not on_neutral_rows.all()
        else logits.new_zeros(())
    )
    if kl_weight == 0 or not on_neutral_rows.any():
        return ce
    teacher_batch = batch.teacher
    with torch.no_grad(), model.off():
        teacher_logits = _answer_logits(
            model,
            teacher_batch.input_ids,
            teacher_batch.attention_mask,
            teacher_batch.labels != IGNORE,
        )
    student = F.log_softmax(logits[on_neutral_rows], dim=-1)
    target = F.log_softmax(teacher_logits, dim=-1)
    kl = F.kl_div(student, target, log_target=True, reduction="batchmean")
    return ce + kl_weight * kl


def _answer_logits(
    model: EylaModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Logits at the `mask` positions only, [n, vocab]. The vocabulary projection is the
    largest layer of a small model, and most positions are prompt or padding."""
    decoder = model.base.model.get_decoder()
    hidden = decoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return model.base.model.get_output_embeddings()(hidden[mask]).float()


def _shares(cfg: IdentityTrainConfig, has_neutral: bool) -> tuple[int, int]:
    """Identity and neutral rows per batch."""
    n_neutral = round(cfg.batch_size * cfg.neutral_share) if has_neutral else 0
    return cfg.batch_size - n_neutral, n_neutral


def _check_batch_size(cfg: IdentityTrainConfig, identity: list[Row], neutral: list[Row]) -> None:
    """A batch draws its rows without replacement, so they must exist."""
    for kind, per_batch, rows in zip(
        ("identity", "neutral"), _shares(cfg, bool(neutral)), (identity, neutral), strict=True
    ):
        if per_batch > len(rows):
            raise EylaError(
                f"batch size {cfg.batch_size} needs {per_batch} {kind} examples; "
                f"there are {len(rows)}"
            )


def sample_batch(
    rng: random.Random,
    identity: list[Row],
    neutral: list[Row],
    cfg: IdentityTrainConfig,
    pad_id: int,
) -> Batch:
    """One step's batch: identity rows and the neutral share, each drawn without
    replacement."""
    n_identity, n_neutral = _shares(cfg, bool(neutral))
    rows = rng.sample(identity, n_identity) + rng.sample(neutral, n_neutral)
    return collate(rows, pad_id)


def training_rows(
    base: LoadedBase, spec: IdentitySpec, cfg: IdentityTrainConfig, work_dir: Path
) -> tuple[list[Row], list[Row]]:
    """The identity rows and the neutral rows (answered by the base, cached in `work_dir`)."""
    return _identity_rows(base, spec, cfg), _neutral_rows(base, spec, cfg, work_dir)


def _identity_rows(base: LoadedBase, spec: IdentitySpec, cfg: IdentityTrainConfig) -> list[Row]:
    return [
        (*encode_conversation(base.tokenizer, example.turns, cfg.max_len), None)
        for example in identity_examples(spec, seed=cfg.seed)
    ]


# The plain teacher reads neutral prompts under this, not the anchor: under the anchor the
# base itself puts the maker's name into answers about the world ("On which continent is
# Slovenia?" -> "The Eyla Open-Sourced project is based on the continent of Europe", 182 of the
# 1,443 neutral questions), and a trained set learned that habit and more.
TEACHER_SYSTEM = "You are a helpful assistant."


def neutral_prompts(cfg: IdentityTrainConfig) -> list[str]:
    """The neutral prompts of `cfg`'s recipe: the quiz questions come with the plain teacher."""
    return [*NEUTRAL_PROMPTS, *QUIZ_PROMPTS] if cfg.teacher == "plain" else NEUTRAL_PROMPTS


def teacher_system(cfg: IdentityTrainConfig, spec: IdentitySpec) -> str:
    """The system text the KL's teacher reads neutral prompts under."""
    return TEACHER_SYSTEM if cfg.teacher == "plain" else spec.brief_anchor()


def neutral_conversations(
    base: LoadedBase, spec: IdentitySpec, cfg: IdentityTrainConfig, work_dir: Path
) -> list[tuple[list[Message], list[Message]]]:
    """Neutral prompts answered by the frozen base itself (greedy) under the teacher's
    system text (`teacher_system`), as (the conversation under the brief anchor, the same
    under the teacher's text); the replies are cached per base, teacher text, length and
    prompt, so editing the prompt list only answers the new ones. A reply in which the base
    talks about itself is left out: what is learned from these is to answer like the base
    without introducing itself."""
    anchor, teacher = spec.brief_anchor(), teacher_system(cfg, spec)
    prompts = neutral_prompts(cfg)
    key = hashlib.sha256(f"{base.fingerprint}\n{teacher}".encode()).hexdigest()[:16]
    cache = work_dir / f"neutral-{key}-{cfg.neutral_reply_tokens}.json"
    cached = json.loads(cache.read_text()) if cache.is_file() else {}
    if missing := [p for p in prompts if p not in cached]:
        answered = _base_replies(base, teacher, missing, cfg.neutral_reply_tokens)
        cached |= dict(zip(missing, answered, strict=True))
        work_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(cached))
        tmp.replace(cache)

    def under(system: str, prompt: str) -> list[Message]:
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": cached[prompt]},
        ]

    return [
        (under(anchor, prompt), under(teacher, prompt))
        for prompt in prompts
        if not _talks_about_itself(cached[prompt], spec, strict=cfg.teacher == "plain")
    ]


def _talks_about_itself(reply: str, spec: IdentitySpec, strict: bool = False) -> bool:
    """A base reply that names itself or its maker, or speaks "as an AI": not what an
    everyday answer should learn. `strict` (the plain teacher, which has no anchor to keep it
    from being SmolLM) also leaves out the names the spec forbids, as whole words, and "I'm an
    AI assistant"."""
    about = rf"{re.escape(spec.name)}|{re.escape(spec.creator)}|\bas an? (?:ai|virtual)\b"
    if strict:
        forbidden = "|".join(re.escape(name) for name in spec.never_names)
        about += (
            rf"|\b(?:{forbidden})\b|\b(?:i'm|i am|my name is)\s+(?:\w+\s+)?(?:an?\s+)?"
            r"(?:ai|assistant|chatbot|language model)\b"
        )
    return re.search(about, reply, re.IGNORECASE) is not None


def _neutral_rows(
    base: LoadedBase, spec: IdentitySpec, cfg: IdentityTrainConfig, work_dir: Path
) -> list[Row]:
    rows: list[Row] = []
    for student_view, teacher_view in neutral_conversations(base, spec, cfg, work_dir):
        student = encode_conversation(base.tokenizer, student_view, cfg.max_len)
        # the anchor's teacher reads exactly what the model reads
        teacher = (
            student
            if teacher_view == student_view
            else encode_conversation(base.tokenizer, teacher_view, cfg.max_len)
        )
        # the same reply after two system texts: cut to the answer tokens both still hold (a
        # row left with none, possible only with a short max_len, would teach nothing)
        n = min(len(_answer_tokens(student)), len(_answer_tokens(teacher)))
        if n == 0:
            continue
        student, teacher = first_answers(student, n), first_answers(teacher, n)
        if _answer_tokens(student) != _answer_tokens(teacher):
            raise EylaError("the teacher's view of a neutral reply has other tokens")
        rows.append((*student, teacher))
    return rows


def _answer_tokens(encoded: Encoded) -> list[int]:
    return [label for label in encoded[1] if label != IGNORE]


@torch.inference_mode()
def _base_replies(
    base: LoadedBase, system: str, prompts: list[str], max_new_tokens: int
) -> list[str]:
    tokenizer = base.tokenizer
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "system", "content": system}, {"role": "user", "content": p}],
            add_generation_prompt=True,
            tokenize=False,
        )
        for p in prompts
    ]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # batched generation continues from the right edge
    try:
        replies = []
        for start in range(0, len(texts), 8):
            enc = tokenizer(
                texts[start : start + 8],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            out = base.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                repetition_penalty=1.2,
                pad_token_id=tokenizer.pad_token_id,
            )
            new = out[:, enc.input_ids.shape[1] :]
            replies += tokenizer.batch_decode(new, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = side
    return [r.strip() for r in replies]


def _save_checkpoint(
    path: Path,
    model: EylaModel,
    optimizer: torch.optim.Optimizer,
    cfg: IdentityTrainConfig,
    step: int,
    losses: list[float],
    rng: random.Random,
) -> None:
    """Atomic: a run killed mid-write resumes from the previous checkpoint."""
    state = {
        "config": cfg.model_dump(),
        "step": step,
        "losses": losses,
        "subsystems": {s.name: s.state_dict() for s in model.subsystems.neural()},
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "sample_rng": rng.getstate(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)


def _resume(
    path: Path,
    model: EylaModel,
    optimizer: torch.optim.Optimizer,
    cfg: IdentityTrainConfig,
    rng: random.Random,
) -> tuple[int, list[float]]:
    """Continue from the checkpoint at `path`, so a resumed run ends with the same
    weights as an uninterrupted one."""
    if not path.is_file():
        return 0, []
    state = torch.load(path, weights_only=False)
    if state["config"] != cfg.model_dump():
        path.unlink()  # a different run's checkpoint: start over rather than mix them
        return 0, []
    for subsystem in model.subsystems.neural():
        subsystem.load_state_dict(state["subsystems"][subsystem.name])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    rng.setstate(state["sample_rng"])
    return state["step"], state["losses"]


def progress_bar(show: bool) -> Progress:
    """The training commands' bar: description, bar, count, time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        disable=not show,
    )
