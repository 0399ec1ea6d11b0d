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
from models.uncertainty import UncertaintyHead

pytestmark = pytest.mark.integration

ITEMS = [
    CalibrationItem(id="france", question="What is the capital of France?", answers=["Paris"]),
    CalibrationItem(id="sum", question="What is 2 + 3?", answers=["5"]),
    CalibrationItem(id="gold", question="What is the chemical symbol for gold?", answers=["Au"]),
    CalibrationItem(id="mother", question="What is my mother's name?", unanswerable=True),
    CalibrationItem(id="cup", question="Who will win the World Cup in 2042?", unanswerable=True),
]


@pytest.fixture(scope="module")
def embedded_eyla(embedded_base) -> EylaModel:
    model = EylaModel(embedded_base)
    attach_default_set(model)
    yield model
    model.detach_all()


def test_batched_answers_and_states_are_what_the_agent_streams(embedded_eyla):
    model = embedded_eyla
    head = next(s for s in model.subsystems if isinstance(s, UncertaintyHead))
    spec = load_identity()
    cfg = DecodingConfig(max_new_tokens=32)
    prompts = {
        item.id: model.prompt(agent_messages(spec, item.question), 32).input_ids[0].tolist()
        for item in ITEMS
    }
    done: dict[str, Generated] = {}
    generate(model, head, prompts, cfg, batch_size=4, on_done=lambda g: done.__setitem__(g.key, g))
    same = 0
    for item in ITEMS:
        streamed = "".join(model.stream(agent_messages(spec, item.question), cfg)).strip()
        state = head.last_hidden()[0].float()
        if done[item.id].text != streamed:
            continue
        same += 1
        cosine = torch.cosine_similarity(state, done[item.id].hidden, dim=0)
        assert cosine > 0.999, (item.id, float(cosine))
    # bfloat16 batched products round differently from one row's, and a sampled token
    # that sits near a tie can then flip and the reply go its own way (one of these five
    # did with the shipped set); every other reply, and its state, is the agent's
    assert same >= len(ITEMS) - 1, f"only {same} of {len(ITEMS)} replies as streamed"
    assert is_right(ITEMS[0], done["france"].text), done["france"].text
