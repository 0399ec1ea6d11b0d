"""Saving and loading a subsystem set: round trip, manifest, and base-model mismatch."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch

from eyla.errors import EylaError
from models.adapter import Adapter
from models.eyla_model import EylaModel, attach_default_set
from models.ssm import SSMSidecar
from models.subsystem_io import MANIFEST, WEIGHTS, find_saved_set
from tests.models.util import logits, make_nonzero, token_ids, with_defaults
from tests.tiny import tiny_base


def trained_set(tmp_path):
    eyla = with_defaults(tiny_base())
    eyla.add(
        SSMSidecar(
            eyla.base, name="ssm_inv", layers=[2], state_size=8, init="inv", method="bilinear"
        )
    )
    make_nonzero(eyla)
    eyla.save_subsystems(tmp_path / "set")
    return eyla, tmp_path / "set"


def test_round_trip_gives_identical_logits(tmp_path):
    eyla, directory = trained_set(tmp_path)
    ids = token_ids(16)
    loaded = EylaModel(tiny_base())
    loaded.load_subsystems(directory)
    assert loaded.subsystems.names == eyla.subsystems.names
    assert torch.equal(logits(loaded, ids), logits(eyla, ids))


def test_manifest_records_kind_placement_hyper_parameters_and_base(tmp_path):
    _, directory = trained_set(tmp_path)
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["base"]["fingerprint"] == "tiny-llama-0"
    assert manifest["subsystems"] == [
        {"name": "adapter", "kind": "adapter", "config": {"layers": [0, 1, 2, 3], "rank": 16}},
        {"name": "prefix", "kind": "prefix", "config": {"layers": [0, 1, 2, 3], "length": 10}},
        {
            "name": "ssm",
            "kind": "ssm",
            "config": {"layers": [0, 1, 2, 3], "state_size": 64, "init": "legs", "method": "zoh"},
        },
        {"name": "uncertainty", "kind": "uncertainty", "config": {}},
        {
            "name": "ssm_inv",
            "kind": "ssm",
            "config": {"layers": [2], "state_size": 8, "init": "inv", "method": "bilinear"},
        },
    ]
    tensors = safetensors.torch.load_file(directory / WEIGHTS)
    assert "ssm_inv.blocks.2.alpha" in tensors
    assert {t.dtype for t in tensors.values()} == {torch.float32}


def test_loading_onto_another_base_fails_clearly(tmp_path):
    _, directory = trained_set(tmp_path)
    other = EylaModel(tiny_base(seed=1))
    with pytest.raises(EylaError) as error:
        other.load_subsystems(directory)
    message = str(error.value)
    assert "trained on base model" in message
    assert "tiny-llama-0" in message and "tiny-llama-1" in message
    assert len(other.subsystems) == 0


def test_damaged_sets_are_errors(tmp_path):
    _, directory = trained_set(tmp_path)
    weights = safetensors.torch.load_file(directory / WEIGHTS)
    weights["adapter.blocks.0.up.weight"] = torch.zeros(64, 8)
    safetensors.torch.save_file(weights, directory / WEIGHTS)
    with pytest.raises(EylaError, match=r"weights for subsystem 'adapter'.*do not fit"):
        EylaModel(tiny_base()).load_subsystems(directory)
    (directory / WEIGHTS).write_bytes(b"garbage")
    with pytest.raises(EylaError, match="cannot read subsystem weights"):
        EylaModel(tiny_base()).load_subsystems(directory)
    (directory / MANIFEST).write_text("{")
    with pytest.raises(EylaError, match="corrupt subsystem manifest"):
        EylaModel(tiny_base()).load_subsystems(directory)
    with pytest.raises(EylaError, match="no saved subsystems"):
        EylaModel(tiny_base()).load_subsystems(tmp_path / "nowhere")


def test_default_set_comes_from_weights_dir_when_it_matches_the_base(tmp_path):
    eyla, directory = trained_set(tmp_path)
    assert find_saved_set(tmp_path, "tiny-llama-0") == directory
    assert find_saved_set(tmp_path, "tiny-llama-1") is None
    assert find_saved_set(tmp_path / "missing", "tiny-llama-0") is None
    ids = token_ids(12)

    matching = EylaModel(tiny_base())
    attach_default_set(matching, (tmp_path,))
    assert "ssm_inv" in matching.subsystems
    assert torch.equal(logits(matching, ids), logits(eyla, ids))

    other_base = tiny_base(seed=1)
    fresh = EylaModel(other_base)
    bare = logits(other_base.model, ids)
    attach_default_set(fresh, (tmp_path,))
    assert fresh.subsystems.names == ["adapter", "prefix", "ssm", "uncertainty"]
    assert torch.equal(logits(fresh, ids), bare)


def test_adapter_rank_must_be_positive(base):
    with pytest.raises(EylaError, match="rank"):
        Adapter(base, rank=0)
