"""Calibration data on the embedded model: batched answers are the agent's answers."""

from __future__ import annotations

import pytest
import torch

from eyla.config import DecodingConfig
from eyla.identity import load_identity
from eyla.training.calibration import agent_messages
from eyla.training.calibration_data import CalibrationItem
from eyla.training.calibration_generate import Generated, generate
from eyla.training.calibration_judge import is_right
from models.eyla_model import EylaModel, attach_default_set
from models.loading import load_base
from models.uncertainty import UncertaintyHead
from tests.conftest import TEST_CACHE

pytestmark = pytest.mark.integration

ITEMS = [
    CalibrationItem(id="france", question="What is the capital of France?", answers=["Paris"]),
    CalibrationItem(id="sum", question="What is 2 + 3?", answers=["5"]),
    CalibrationItem(id="gold", question="What is the chemical symbol for gold?", answers=["Au"]),
    CalibrationItem(id="mother", question="What is my mother's name?", unanswerable=True),
    CalibrationItem(id="cup", question="Who will win the World Cup in 2042?", unanswerable=True),
]


@pytest.fixture(scope="module")
def embedded_eyla() -> EylaModel:
    """In float32 whatever the suite's dtype: the test is about our batching code, and in
    bfloat16 a batched product rounds differently from one row's often enough to flip a
    sampled token near a tie (how often depends on the CPU's kernels)."""
    model = EylaModel(load_base("embedded", cache_dir=TEST_CACHE, dtype="float32"))
    attach_default_set(model)
    yield model
    model.detach_all()


def test_batched_answers_and_states_are_what_the_agent_streams(embedded_eyla):
    model = embedded_eyla
    head = next(s for s in model.subsystems if isinstance(s, UncertaintyHead))
    spec = load_identity()
    cfg = DecodingConfig(max_new_tokens=32)
    prompts = {
        item.id: model.prompt(agent_messages(spec, model, item.question), 32).input_ids[0].tolist()
        for item in ITEMS
    }
    done: dict[str, Generated] = {}
    generate(model, head, prompts, cfg, batch_size=4, on_done=lambda g: done.__setitem__(g.key, g))
    same = 0
    for item in ITEMS:
        streamed = "".join(model.stream(agent_messages(spec, model, item.question), cfg)).strip()
        state = head.last_hidden()[0].float()
        if done[item.id].text != streamed:
            continue
        same += 1
        cosine = torch.cosine_similarity(state, done[item.id].hidden, dim=0)
        assert cosine > 0.999, (item.id, float(cosine))
    # batched products still round differently from one row's in float32, so a sampled
    # token at an exact tie could flip: one of the five may go its own way
    assert same >= len(ITEMS) - 1, f"only {same} of {len(ITEMS)} replies as streamed"
    checkable = [item for item in ITEMS if not item.unanswerable]
    right = [item.id for item in checkable if is_right(item, done[item.id].text)]
    assert len(right) >= 2, {item.id: done[item.id].text for item in checkable}
