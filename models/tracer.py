"""Measure what each subsystem contributes to a reply by switching it off.

Teacher-forced: the full model's reply is fed back unchanged, so full and ablated
variants are compared on the same tokens, with no regeneration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from models.eyla_model import EylaModel
from models.generate import Message


@dataclass(frozen=True)
class ReplyTokens:
    """A prompt and the reply that followed it, as one sequence."""

    input_ids: torch.Tensor  # [1, prompt + reply]
    reply_start: int


def reply_tokens(model: EylaModel, messages: Sequence[Message], reply: str) -> ReplyTokens:
    prompt = model.prompt(messages, max_new_tokens=0).input_ids
    reply_ids = model.tokenizer(reply, add_special_tokens=False, return_tensors="pt").input_ids
    return ReplyTokens(torch.cat([prompt, reply_ids], dim=1), prompt.shape[1])


@torch.inference_mode()
def reply_logprobs(model: EylaModel, tokens: ReplyTokens) -> torch.Tensor:
    """Log-probabilities [R, V] of the next token at each position that predicts a reply
    token, with whatever subsystems are enabled right now."""
    logits = model(tokens.input_ids).logits[0].float()
    return torch.log_softmax(logits[tokens.reply_start - 1 : -1], dim=-1)


def kl_per_token(full: torch.Tensor, ablated: torch.Tensor) -> torch.Tensor:
    """KL(full || ablated) in nats at each position, from log-probabilities [R, V]."""
    return (full.exp() * (full - ablated)).sum(-1).clamp_min(0.0)


def reply_contributions(
    model: EylaModel, messages: Sequence[Message], reply: str
) -> dict[str, float]:
    """Mean KL (nats) between the full model and the model with each neural subsystem
    switched off in turn, over the reply's tokens."""
    tokens = reply_tokens(model, messages, reply)
    if tokens.input_ids.shape[1] == tokens.reply_start:
        return {}
    full = reply_logprobs(model, tokens)
    contributions = {}
    for subsystem in model.subsystems.neural():
        with model.off(subsystem.name):
            ablated = reply_logprobs(model, tokens)
        contributions[subsystem.name] = float(kl_per_token(full, ablated).mean())
    return contributions
