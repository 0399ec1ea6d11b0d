"""The generated answers, cached on disk so a rerun (or a resumed run) skips generation.

One JSONL file per key; a line is written as soon as an answer is generated, so an
interrupted run keeps what it had. The key covers everything that changes an answer or its
hidden state: the base model's fingerprint and dtype, the weights of every subsystem that
acts on generation (not the head, which only reads), the decoding settings, the batch
size (batched matrix products round differently), the exact prompt tokens, and the
version of the generation loop itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, ValidationError

from eyla.config import DecodingConfig
from models.eyla_model import EylaModel
from models.uncertainty import UncertaintyHead

# bump when `calibration_generate` changes which tokens or states it produces
GENERATION_VERSION = 2


class CachedAnswer(BaseModel):
    id: str
    text: str
    tokens: int
    hidden: list[float]


def cache_key(
    model: EylaModel,
    prompts: Mapping[str, Sequence[int]],
    cfg: DecodingConfig,
    batch_size: int,
) -> str:
    digest = hashlib.sha256()
    base = model.base
    header = {
        "generation": GENERATION_VERSION,
        "base": base.fingerprint,
        "dtype": str(base.model.dtype),
        "decoding": cfg.model_dump(),
        "batch_size": batch_size,
        "prompts": sorted((key, list(ids)) for key, ids in prompts.items()),
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for sub in model.subsystems.neural():
        if isinstance(sub, UncertaintyHead) or not sub.enabled:
            continue
        digest.update(sub.name.encode())
        for name, tensor in sorted(sub.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def read_answers(path: Path) -> dict[str, CachedAnswer]:
    """The answers cached in `path`. A line cut short by an interrupted write is dropped
    from the file too, so the next append starts on a line of its own."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    answers: dict[str, CachedAnswer] = {}
    for line in text.splitlines():
        try:
            answer = CachedAnswer.model_validate_json(line)
        except ValidationError:
            continue
        answers[answer.id] = answer
    kept = "".join(a.model_dump_json() + "\n" for a in answers.values())
    if kept != text:
        path.write_text(kept, encoding="utf-8")
    return answers


def append_answer(path: Path, answer: CachedAnswer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(answer.model_dump_json() + "\n")
