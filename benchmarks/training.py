"""Cost of one `eyla train identity` step on the embedded model, beside the plain way.

Both ways train the default subsystem set on the same batches (the default run's first
ones) with the default config. The plain way computes logits at every position; ours
computes them only where the loss looks, at the answer tokens. The two take turns step by
step, so load from other processes falls on both alike. Each step is a whole training
step: forward, the KL teacher's forward, backward and the optimiser's update. Prints
seconds per step, the ratio plain / ours, and the default run's projected length (steps x
our mean step) against the 15-minute target. Exits 1 when the projection misses it.

    .venv/bin/python -m benchmarks.training [--steps 12] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from transformers.utils import logging as hf_logging

from eyla.config import read_settings
from eyla.identity import load_identity
from eyla.training.batches import IGNORE, Batch, Row
from eyla.training.identity_config import IdentityTrainConfig
from eyla.training.identity_train import (
    identity_loss,
    sample_batch,
    training_rows,
)
from models.eyla_model import EylaModel, default_subsystems
from models.loading import load_base

TARGET_SECONDS = 15 * 60
PLAIN, OURS = "plain: logits at every position", "ours: logits at answer tokens"


def full_logits_loss(model: EylaModel, batch: Batch, kl_weight: float) -> torch.Tensor:
    """The identity loss computed the plain way, from logits at every position."""
    logits = model(batch.input_ids, attention_mask=batch.attention_mask).logits.float()
    mask = batch.labels != IGNORE
    rows = batch.neutral
    ce = F.cross_entropy(logits[~rows][mask[~rows]], batch.labels[~rows][mask[~rows]])
    view = batch.teacher
    with torch.no_grad(), model.off():
        teacher = model(view.input_ids, attention_mask=view.attention_mask).logits
    student = F.log_softmax(logits[rows][mask[rows]], dim=-1)
    target = F.log_softmax(teacher.float()[view.labels != IGNORE], dim=-1)
    kl = F.kl_div(student, target, log_target=True, reduction="batchmean")
    return ce + kl_weight * kl


def measure(
    model: EylaModel, identity: list[Row], neutral: list[Row], cfg: IdentityTrainConfig, steps: int
) -> dict[str, list[float]]:
    """Seconds per training step, per way, taking turns on the default run's batches."""
    optimizer = torch.optim.AdamW(model.param_groups(cfg.lr, cfg.weight_decay))
    rng = random.Random(cfg.seed)
    seconds: dict[str, list[float]] = {PLAIN: [], OURS: []}
    for _ in range(steps):
        batch = sample_batch(rng, identity, neutral, cfg, model.tokenizer.pad_token_id or 0)
        for way, loss_fn in ((PLAIN, full_logits_loss), (OURS, identity_loss)):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model, batch, cfg.kl_weight).backward()
            optimizer.step()
            seconds[way].append(time.perf_counter() - start)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="steps timed per way")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    console = Console(width=110)

    settings = read_settings()
    cfg = IdentityTrainConfig()
    base = load_base("embedded", cache_dir=settings.cache_dir, dtype="float32")
    with console.status("building the training rows (the base answers neutral prompts once)"):
        identity, neutral = training_rows(
            base,
            load_identity(settings.agent.identity),
            cfg,
            settings.home / "training" / "identity",
        )
    torch.manual_seed(cfg.seed)
    model = EylaModel(base)
    for subsystem in default_subsystems(base, seed=cfg.seed):
        model.add(subsystem)
    measure(model, identity, neutral, cfg, steps=1)  # warm-up
    seconds = measure(model, identity, neutral, cfg, args.steps)
    mean = {way: statistics.mean(times) for way, times in seconds.items()}

    table = Table(
        title=f"SmolLM2-135M float32, batch {cfg.batch_size}, {args.steps} steps per way, "
        f"{torch.get_num_threads()} threads"
    )
    for column in ("way", "mean s/step", "median s/step", "speed-up"):
        table.add_column(column, justify="right")
    for way in (PLAIN, OURS):
        table.add_row(
            way,
            f"{mean[way]:.2f}",
            f"{statistics.median(seconds[way]):.2f}",
            f"{mean[PLAIN] / mean[way]:.2f}",
        )
    console.print(table)

    projected = cfg.steps * mean[OURS]
    verdict = "meets" if projected <= TARGET_SECONDS else "MISSES"
    console.print(
        f"default run ({cfg.steps} steps) projected at {projected:.0f} s "
        f"(plain way {cfg.steps * mean[PLAIN]:.0f} s): {verdict} the {TARGET_SECONDS} s target"
    )
    return 0 if projected <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
