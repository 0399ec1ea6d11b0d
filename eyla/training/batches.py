"""Turn conversations into padded training batches with loss masks on assistant turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from models.generate import Message, render_chat

IGNORE = -100


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor  # [B, L], right-padded
    attention_mask: torch.Tensor  # [B, L]
    labels: torch.Tensor  # [B, L], IGNORE outside assistant turns, already shifted
    neutral: torch.Tensor  # [B] bool: KL to the frozen base applies


def encode_conversation(
    tokenizer: PreTrainedTokenizerBase, turns: Sequence[Message], max_len: int
) -> tuple[list[int], list[int]]:
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


def collate(rows: Sequence[tuple[list[int], list[int], bool]], pad_id: int) -> Batch:
    width = max(len(ids) for ids, _, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE)
    for row, (ids, lab, _) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        # position t predicts token t + 1
        labels[row, : len(lab) - 1] = torch.tensor(lab[1:])
    neutral = torch.tensor([flag for _, _, flag in rows])
    return Batch(input_ids, mask, labels, neutral)
