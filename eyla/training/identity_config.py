"""The `eyla train identity` recipe: every default in one place, importable without torch so
the CLI can show it in `--help`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Precision = Literal["auto", "float32", "bfloat16"]
# who the KL's teacher is: the base under the anchor the model reads, or under a plain system
# text, with quiz questions about the world among the neutral prompts (README: neutral
# accuracy of both seeds passes, but more everyday replies open "I can't know")
Teacher = Literal["anchor", "plain"]


class IdentityTrainConfig(BaseModel):
    steps: int = Field(180, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(2e-3, gt=0)
    # linear warm-up, then cosine decay to `final_lr_share` of `lr`: a constant rate left
    # the last steps' loss jumping between 0.8 and 1.4, and the trained set with it
    warmup_steps: int = Field(10, ge=0)
    final_lr_share: float = Field(0.1, ge=0, le=1)
    # bfloat16 autocast where the CPU computes it natively (AMX, AVX-512 BF16): 1.5x faster
    # steps on such a CPU; emulated elsewhere, so float32 there
    precision: Precision = "auto"
    weight_decay: float = Field(0.0, ge=0)
    kl_weight: float = Field(1.0, ge=0)
    teacher: Teacher = "anchor"
    neutral_share: float = Field(0.375, ge=0, le=1)
    max_len: int = Field(160, ge=16)
    neutral_reply_tokens: int = Field(40, ge=1)
    checkpoint_every: int = Field(50, ge=1)
    seed: int = 0


def default(field: str) -> object:
    """The recipe's default for `field`."""
    return IdentityTrainConfig.model_fields[field].default
