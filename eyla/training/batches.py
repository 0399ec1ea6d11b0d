"""Turn conversations into padded training batches with loss masks on assistant turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from models.generate import Message, render_chat

IGNORE = -100

Encoded = tuple[list[int], list[int]]  # token ids, and labels as `encode_conversation` gives
# a conversation as the model reads it, and, for a neutral row, as the KL's teacher reads it
Row = tuple[list[int], list[int], Encoded | None]


@dataclass(frozen=True)
class Padded:
    input_ids: torch.Tensor  # [B, L], right-padded
    attention_mask: torch.Tensor  # [B, L]
    labels: torch.Tensor  # [B, L], IGNORE outside assistant turns, already shifted


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor  # [B, L], right-padded
    attention_mask: torch.Tensor  # [B, L]
    labels: torch.Tensor  # [B, L], IGNORE outside assistant turns, already shifted
    neutral: torch.Tensor  # [B] bool: KL to the frozen base applies
    teacher: Padded  # the neutral rows as the teacher reads them, the same answer tokens


def encode_conversation(
    tokenizer: PreTrainedTokenizerBase, turns: Sequence[Message], max_len: int
) -> Encoded:
    """Token ids of the whole conversation as the chat template renders it (no system
    prompt is added by us), and labels that are the ids on assistant content and its end
    token, IGNORE elsewhere."""
    ids: list[int] = []
    labels: list[int] = []
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        prefix = render_chat(tokenizer, turns[:i], generation_prompt=True)
        full = render_chat(tokenizer, turns[: i + 1], generation_prompt=False)
        labels += [IGNORE] * (len(prefix) - len(ids)) + full[len(prefix) :]
        ids = full
    return ids[:max_len], labels[:max_len]


def first_answers(encoded: Encoded, n: int) -> Encoded:
    """`encoded` learning only its first `n` answer tokens."""
    ids, labels = encoded
    kept: list[int] = []
    for label in labels:
        kept.append(label if label != IGNORE and n > 0 else IGNORE)
        n -= label != IGNORE
    return ids, kept


def pad(rows: Sequence[Encoded], pad_id: int) -> Padded:
    width = max((len(ids) for ids, _ in rows), default=0)
    input_ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE)
    for row, (ids, lab) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        # position t predicts token t + 1
        labels[row, : len(lab) - 1] = torch.tensor(lab[1:])
    return Padded(input_ids, mask, labels)


def collate(rows: Sequence[Row], pad_id: int) -> Batch:
    student = pad([(ids, labels) for ids, labels, _ in rows], pad_id)
    teacher = pad([view for _, _, view in rows if view is not None], pad_id)
    neutral = torch.tensor([view is not None for _, _, view in rows], dtype=torch.bool)
    return Batch(student.input_ids, student.attention_mask, student.labels, neutral, teacher)
