"""`GrowingCache` holds what `DynamicCache` holds, without copying the cache every step."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from models.int4 import accelerate
from models.kv_cache import FIRST_ROOM, GrowingCache
from tests.models.util import make_nonzero, token_ids, with_defaults
from tests.tiny import round_to_four_bit, tiny_base

LAYERS = 2


def fill(cache, lengths: list[int], seed: int = 0, batch: int = 2) -> None:
    torch.manual_seed(seed)
    for length in lengths:
        for layer in range(LAYERS):
            keys, values = torch.randn(2, batch, 3, length, 8)
            cache.update(keys, values, layer)


def assert_same(a, b) -> None:
    assert a.get_seq_length() == b.get_seq_length()
    for x, y in zip(a.layers, b.layers, strict=True):
        assert torch.equal(x.keys, y.keys) and torch.equal(x.values, y.values)


def test_holds_what_a_dynamic_cache_holds_across_growth():
    lengths = [5] + [1] * (FIRST_ROOM + 10) + [FIRST_ROOM * 3]
    growing, dynamic = GrowingCache(), DynamicCache()
    fill(growing, lengths)
    fill(dynamic, lengths)
    assert_same(growing, dynamic)


def test_steps_write_in_place_until_the_buffer_is_full():
    cache = GrowingCache()
    fill(cache, [10])
    buffer = cache.layers[0].keys.data_ptr()
    fill(cache, [1] * FIRST_ROOM)
    assert cache.layers[0].keys.data_ptr() == buffer
    fill(cache, [1])
    assert cache.layers[0].keys.data_ptr() != buffer, "full: it grew"


def test_crop_and_batch_selection_keep_it_right():
    growing, dynamic = GrowingCache(), DynamicCache()
    for cache in (growing, dynamic):
        fill(cache, [12, 1, 1])
        cache.crop(-4)
        fill(cache, [1, 1], seed=1)
        cache.batch_select_indices(torch.tensor([1]))
        fill(cache, [1], seed=2, batch=1)
    assert_same(growing, dynamic)


def test_a_step_under_autograd_appends_without_writing_in_place():
    cache = GrowingCache()
    fill(cache, [4])
    keys = torch.randn(2, 3, 1, 8, requires_grad=True)
    got, _ = cache.update(keys, torch.randn(2, 3, 1, 8), 0)
    loss = (got * got).sum()  # keeps `got` for the backward pass
    cache.update(torch.randn(2, 3, 1, 8, requires_grad=True), torch.randn(2, 3, 1, 8), 0)
    loss.backward()
    assert keys.grad is not None and torch.equal(keys.grad, 2 * keys.detach())
    assert cache.get_seq_length() == 6


def test_a_buffer_made_in_inference_mode_can_be_continued_outside_it():
    cache = GrowingCache()
    with torch.inference_mode():
        fill(cache, [4])
    with torch.no_grad():
        fill(cache, [1, 1])
    reference = DynamicCache()
    with torch.inference_mode():
        fill(reference, [4])
    with torch.no_grad():
        fill(reference, [1, 1])
    assert_same(cache, reference)


@torch.inference_mode()
def test_decoding_through_it_gives_the_same_logits():
    for four_bit in (False, True):
        eyla = with_defaults(tiny_base())
        if four_bit:
            round_to_four_bit(eyla.base.model)
            assert accelerate(eyla.base.model)
        make_nonzero(eyla)
        prompt, forced = token_ids(9), token_ids(5, seed=1)[0].tolist()
        runs = []
        for cache in (GrowingCache(), DynamicCache()):
            logits = [eyla(input_ids=prompt, cache=cache, use_cache=True).logits[0, -1]]
            for token in forced:
                step = eyla(input_ids=torch.tensor([[token]]), cache=cache, use_cache=True)
                logits.append(step.logits[0, -1])
            runs.append(torch.stack(logits))
        assert torch.equal(runs[0], runs[1])
