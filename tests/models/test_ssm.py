"""The S4D side-car: convolution and recurrence agree, state carries and survives bytes."""

from __future__ import annotations

import pytest
import torch

from eyla.errors import EylaError
from models.eyla_model import EylaModel
from models.ssm import S4D, SSMSidecar
from tests.models.util import logits, make_nonzero, token_ids, with_defaults


def s4d(init: str = "legs", method: str = "zoh", channels: int = 8, state: int = 16) -> S4D:
    torch.manual_seed(0)
    layer = S4D(channels, state, init, method)
    with torch.no_grad():
        # a spread of step sizes, some large enough for the modes to rotate fast
        layer.log_dt.copy_(torch.linspace(-6.0, -1.0, channels))
    return layer


def inputs(length: int, channels: int = 8, batch: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, length, channels, generator=torch.Generator().manual_seed(seed))


def run_steps(layer: S4D, u: torch.Tensor, state=None):
    outputs = []
    for k in range(u.shape[1]):
        y, state = layer(u[:, k : k + 1], state)
        outputs.append(y)
    return torch.cat(outputs, dim=1), state


@pytest.mark.parametrize("init", ["legs", "lin", "inv"])
@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_convolution_equals_recurrence(init, method):
    layer = s4d(init, method)
    u = inputs(96)
    with torch.no_grad():
        conv, conv_state = layer(u, keep_state=True)
        steps, step_state = run_steps(layer, u)
    assert (conv - steps).abs().max() <= 1e-4
    assert (conv_state - step_state).abs().max() <= 1e-4


def test_prefill_then_step_by_step_equals_one_pass():
    layer = s4d()
    u = inputs(60)
    with torch.no_grad():
        whole, _ = layer(u)
        prefill, state = layer(u[:, :40], keep_state=True)
        rest, _ = run_steps(layer, u[:, 40:], state)
    assert (torch.cat([prefill, rest], dim=1) - whole).abs().max() <= 1e-4


def test_a_chunk_arriving_with_state_equals_one_pass():
    layer = s4d("inv", "bilinear")
    u = inputs(70)
    with torch.no_grad():
        whole, whole_state = layer(u, keep_state=True)
        first, state = layer(u[:, :25], keep_state=True)
        second, state = layer(u[:, 25:], state, keep_state=True)
    assert (torch.cat([first, second], dim=1) - whole).abs().max() <= 1e-4
    assert (state - whole_state).abs().max() <= 1e-4


def test_long_prompt_convolution_stays_within_tolerance():
    """777 positions: blocks of 28 powers, a ragged last block, fast-rotating modes."""
    layer = s4d("legs", "zoh", state=64)
    u = inputs(777, batch=1)
    with torch.no_grad():
        conv, conv_state = layer(u, keep_state=True)
        steps, step_state = run_steps(layer, u)
    assert (conv - steps).abs().max() <= 1e-4
    assert (conv_state - step_state).abs().max() <= 1e-4


def test_extreme_step_sizes_stay_finite():
    layer = s4d()
    u = inputs(30)
    with torch.no_grad():
        layer.log_dt.copy_(torch.tensor([-80.0, -20, -5, 0, 5, 20, 80, 1e4]))
        layer.log_decay[0].fill_(-200.0)
        y, state = layer(u, keep_state=True)
        steps, _ = run_steps(layer, u)
    assert torch.isfinite(y).all() and torch.isfinite(torch.view_as_real(state)).all()
    assert torch.isfinite(steps).all()


def test_cached_model_forward_in_chunks_and_steps_equals_full_recompute(base):
    """Prefill as a convolution, a second chunk on top of the state, then single steps."""
    eyla = with_defaults(base)
    make_nonzero(eyla)
    ids = token_ids(30)
    full = logits(eyla, ids)
    cache = eyla.new_cache()
    pieces = [ids[:, :18], ids[:, 18:25]] + [ids[:, i : i + 1] for i in range(25, 30)]
    with torch.no_grad():
        cached = torch.cat(
            [eyla(piece, cache=cache, use_cache=True).logits for piece in pieces], dim=1
        )
    assert (cached - full).abs().max() <= 1e-4


def test_a_cache_the_ssm_has_not_followed_is_an_error(base):
    eyla = with_defaults(base)
    make_nonzero(eyla)
    cache = eyla.new_cache()
    ids = token_ids(8)
    with torch.no_grad():
        with eyla.off("ssm"):
            eyla(ids[:, :6], cache=cache, use_cache=True)
        with pytest.raises(EylaError, match="has read 0 tokens but the KV cache holds 6"):
            eyla(ids[:, 6:7], cache=cache, use_cache=True)


def test_the_state_after_a_prompt_is_read_per_side_car_layer(base):
    eyla = with_defaults(base)
    make_nonzero(eyla)
    cache = eyla.new_cache()
    with torch.no_grad():
        eyla(token_ids(12), cache=cache, use_cache=True)
    state = eyla.ssm_state(cache)
    assert sorted(state) == ["ssm.0", "ssm.1", "ssm.2", "ssm.3"]
    assert state["ssm.0"].shape == (1, 64, 32) and state["ssm.0"].dtype == torch.complex64
    assert all(value.abs().sum() > 0 for value in state.values())


def test_bad_states_are_rejected_by_restore(base):
    eyla = with_defaults(base)
    [sidecar] = [s for s in eyla.subsystems if isinstance(s, SSMSidecar)]
    state = {i: torch.zeros(1, 64, 32, dtype=torch.complex64) for i in sidecar.layers}
    with pytest.raises(EylaError, match="expected \\[0, 1, 2, 3\\]"):
        sidecar.restore(eyla.new_cache(), {0: state[0]})
    with pytest.raises(EylaError, match="expected complex"):
        sidecar.restore(
            eyla.new_cache(), {**state, 2: torch.zeros(1, 64, 16, dtype=torch.complex64)}
        )


def test_bad_hyper_parameters_are_errors(base):
    with pytest.raises(EylaError, match="unknown SSM init"):
        SSMSidecar(base, init="legt")
    with pytest.raises(EylaError, match="unknown discretisation"):
        SSMSidecar(base, method="euler")
    with pytest.raises(EylaError, match="even"):
        SSMSidecar(base, state_size=5)


def test_ssm_runs_in_float32_beside_a_bfloat16_base(base):
    base.model.to(torch.bfloat16)
    eyla = EylaModel(base)
    sidecar = eyla.add(SSMSidecar(base, layers=[1]))
    make_nonzero(eyla)
    seen = {}
    sidecar.blocks["1"].s4d.register_forward_hook(lambda m, a, out: seen.update(y=out[0]))
    out = logits(eyla, token_ids(10))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    assert seen["y"].dtype == torch.float32


def test_every_ssm_parameter_learns_through_the_convolution(base):
    eyla = EylaModel(base)
    sidecar = eyla.add(SSMSidecar(base, layers=[1], init="lin", method="bilinear"))
    make_nonzero(eyla)
    ids = token_ids(20)
    loss = torch.nn.functional.cross_entropy(eyla(ids).logits[0, :-1], ids[0, 1:])
    loss.backward()
    for name, parameter in sidecar.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
