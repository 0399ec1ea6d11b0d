"""A tiny randomly initialised Llama and a ChatML tokenizer, built in memory for unit tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from models.loading import BaseModel

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "Who are you? I am Eyla, an identity-anchored assistant.",
    "What is the capital of France? Paris. My dog is called Pixel.",
    "The quick brown fox jumps over the lazy dog 0123456789.",
]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHATML
    return fast


def tiny_llama(
    seed: int = 0, layers: int = 4, vocab_size: int = 400, context: int = 256
) -> LlamaForCausalLM:
    """Grouped-query attention (4 heads over 2 kv heads) like SmolLM2, at toy size."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        tie_word_embeddings=True,
        eos_token_id=2,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    model.requires_grad_(False)
    return model


def tiny_base(seed: int = 0, layers: int = 4, context: int = 256) -> BaseModel:
    tokenizer = tiny_tokenizer()
    model = tiny_llama(seed, layers, vocab_size=len(tokenizer), context=context)
    return BaseModel(model, tokenizer, Path("tiny-llama"), f"tiny-llama-{seed}", None)


def round_to_four_bit(model: torch.nn.Module) -> None:
    """Round every decoder projection to Q4_1, as a Q4_1 GGUF stores them: per group of 32
    inputs, w = d*q + m with q in 0..15 and d, m float16."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and ".layers." in name:
            rows, cols = module.weight.shape
            groups = module.weight.data.view(rows, cols // 32, 32)
            low, high = groups.amin(-1, keepdim=True), groups.amax(-1, keepdim=True)
            scale = ((high - low) / 15).half().float()
            codes = ((groups - low) / scale).round().clamp(0, 15)
            groups.copy_(scale * codes + low.half().float())
