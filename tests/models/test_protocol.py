"""The subsystem protocol: registry, nested off-switch, placement errors, param groups."""

from __future__ import annotations

import pytest
import torch

from eyla.errors import EylaError
from models.adapter import Adapter
from models.eyla_model import EylaModel
from models.prefix import IdentityPrefix
from models.ssm import DYNAMICS_LR, SSMSidecar
from models.subsystem import Subsystem, evenly_spaced
from models.uncertainty import UncertaintyHead
from tests.models.util import logits, make_nonzero, token_ids, with_defaults
from tests.tiny import tiny_base


class IdentityGuard(Subsystem):
    """An agent-level subsystem: no parameters, it only consults `enabled`."""

    kind = "identity_guard"

    def check(self, draft: str) -> str:
        return draft.replace("ChatGPT", "Eyla") if self.enabled else draft


def flags(eyla: EylaModel) -> dict[str, bool]:
    return {sub.name: sub.enabled for sub in eyla.subsystems}


def test_off_nests_and_restores_each_previous_state(base):
    ids = token_ids(12)
    bare = logits(base.model, ids)
    eyla = with_defaults(base)
    make_nonzero(eyla)
    full = logits(eyla, ids)
    with eyla.off("adapter", "ssm"):
        outer = logits(eyla, ids)
        assert not torch.equal(outer, full)
        with eyla.off("adapter"):
            assert flags(eyla) == {
                "adapter": False,
                "prefix": True,
                "ssm": False,
                "uncertainty": True,
            }
            assert torch.equal(logits(eyla, ids), outer)
        # leaving the inner block must not switch the adapter back on
        assert flags(eyla) == {"adapter": False, "prefix": True, "ssm": False, "uncertainty": True}
        assert torch.equal(logits(eyla, ids), outer)
        with eyla.off():
            assert torch.equal(logits(eyla, ids), bare)
        assert torch.equal(logits(eyla, ids), outer)
    assert all(flags(eyla).values())
    assert torch.equal(logits(eyla, ids), full)


def test_off_equals_never_attaching_the_subsystem(base):
    ids = token_ids(12)
    eyla = with_defaults(base)
    make_nonzero(eyla)
    with eyla.off("prefix"):
        switched = logits(eyla, ids)
    eyla.subsystems.remove("prefix")
    assert torch.equal(logits(eyla, ids), switched)


def test_off_restores_after_an_exception_and_keeps_an_already_off_subsystem_off(base):
    eyla = with_defaults(base)
    eyla.subsystems["ssm"].enabled = False
    with pytest.raises(RuntimeError), eyla.off("ssm", "prefix"):
        raise RuntimeError("boom")
    assert flags(eyla) == {"adapter": True, "prefix": True, "ssm": False, "uncertainty": True}


def test_subsystem_level_off_switch(base):
    eyla = with_defaults(base)
    adapter = eyla.subsystems["adapter"]
    with adapter.off(), adapter.off():
        assert not adapter.enabled
    assert adapter.enabled


def test_agent_level_subsystem_shares_registry_and_off_switch(base):
    eyla = with_defaults(base)
    guard = eyla.add(IdentityGuard("identity_guard"))
    assert list(guard.parameters()) == [] and guard.gates() == []
    assert guard.check("I am ChatGPT") == "I am Eyla"
    with eyla.off("identity_guard", "adapter"):
        assert guard.check("I am ChatGPT") == "I am ChatGPT"
    assert guard.check("I am ChatGPT") == "I am Eyla"
    assert eyla.subsystems.names == ["adapter", "prefix", "ssm", "uncertainty", "identity_guard"]
    assert [s.name for s in eyla.subsystems.neural()] == ["adapter", "prefix", "ssm", "uncertainty"]


def test_unknown_names_are_errors_listing_what_is_registered(base):
    eyla = with_defaults(base)
    with pytest.raises(EylaError, match="no subsystem 'adaptor'; registered: adapter, prefix"):
        eyla.off("adaptor").__enter__()
    with pytest.raises(EylaError, match="already registered"):
        eyla.add(Adapter(base))
    with pytest.raises(EylaError, match="bad subsystem name"):
        Adapter(base, name="soul.pass")


@pytest.mark.parametrize("layer", [4, -5, "model.layers.4", "model.layer.1", "layers.1", "x"])
@pytest.mark.parametrize("kind", [Adapter, IdentityPrefix, SSMSidecar])
def test_attaching_to_a_missing_layer_names_the_layers_that_exist(base, kind, layer):
    with pytest.raises(EylaError) as error:
        kind(base, layers=[layer])
    message = str(error.value)
    assert repr(layer) in message
    assert "layers 0-3" in message and "model.layers.0 ... model.layers.3" in message


def test_layers_by_name_and_negative_index(base):
    adapter = Adapter(base, layers=["model.layers.2", -1, 2])
    assert adapter.layers == [2, 3]
    assert evenly_spaced(30, 4) == [3, 11, 18, 26]
    assert evenly_spaced(4, 6) == [0, 1, 2, 3]


def test_detaching_everything_restores_the_base(base):
    ids = token_ids(10)
    bare = logits(base.model, ids)
    eyla = with_defaults(base)
    make_nonzero(eyla)
    for name in eyla.subsystems.names:
        eyla.subsystems.remove(name)
    assert torch.equal(logits(base.model, ids), bare)
    with pytest.raises(EylaError, match="already attached"):
        adapter = Adapter(base)
        adapter.attach(base)
        adapter.attach(base)


def test_parameters_stay_float32_on_a_bfloat16_base():
    base = tiny_base()
    base.model.to(torch.bfloat16)
    eyla = with_defaults(base)
    dtypes = {p.dtype for sub in eyla.subsystems.neural() for p in sub.parameters()}
    assert dtypes == {torch.float32}
    assert not any(p.requires_grad for p in base.model.parameters())


def test_param_groups_cover_every_parameter_once_with_slow_undecayed_ssm_dynamics(base):
    eyla = with_defaults(base)
    groups = eyla.param_groups(lr=1e-2, weight_decay=0.1)
    grouped = [id(p) for group in groups for p in group["params"]]
    everything = [id(p) for sub in eyla.subsystems.neural() for p in sub.parameters()]
    assert sorted(grouped) == sorted(everything)
    ssm = eyla.subsystems["ssm"]
    dynamics = {id(p) for block in ssm.blocks.values() for p in block.s4d.dynamics()}
    slow = [g for g in groups if {id(p) for p in g["params"]} == dynamics]
    assert slow == [{"params": slow[0]["params"], "lr": DYNAMICS_LR, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups)
    assert len(optimizer.param_groups) == len(groups)


def test_uncertainty_head_is_neutral_and_reads_the_last_hidden_state(base):
    eyla = EylaModel(base)
    head = eyla.add(UncertaintyHead(base))
    assert head.probability() is None
    logits(eyla, token_ids(6))
    assert torch.equal(head.probability(), torch.tensor([0.5]))
    with torch.no_grad():
        head.proj.weight.normal_()
    first = head.probability()
    logits(eyla, token_ids(6, seed=3))
    assert not torch.equal(head.probability(), first)
    with eyla.off("uncertainty"):
        assert head.probability() is None
