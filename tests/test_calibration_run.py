"""The calibrated head in use: trained on the state the agent reads, saved with its
temperature, hedging in the agent, and `eyla train calibration` end to end (tiny Llama)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from typer.testing import CliRunner

from eyla.agent import Agent
from eyla.config import DecodingConfig, Settings
from eyla.identity import IdentitySpec
from eyla.training.calibration import agent_messages
from eyla.training.calibration_generate import Generated, generate
from memory.store import MemoryStore
from models.eyla_model import EylaModel, default_subsystems
from models.loading import BaseModel
from models.subsystem_io import WEIGHTS, load_subsystems
from models.uncertainty import UncertaintyHead
from tests.fakes import HashingEmbedder
from tests.models.util import make_nonzero
from tests.tiny import tiny_base

QUESTIONS = [
    "Who are you?",
    "Who are we?",
    "Who is she?",
    "What is it?",
    "fox dog",
    "fox cat",
    "lazy dog 0123",
    "capital of France",
]
SAMPLED = DecodingConfig(max_new_tokens=12, temperature=1.0, top_p=0.9, seed=0)
# a short anchor keeps the tiny model's prompts short (its tokenizer spells most words out)
SPEC = IdentitySpec(
    name="Eyla", creator="the Eyla project", kind="an assistant", purpose="to help", values=["care"]
)


def lively_base() -> BaseModel:
    """A tiny Llama whose replies depend on the prompt and end at different lengths: the
    default init gives near-uniform logits that ignore the prompt, so the weights are
    scaled up, and a few common tokens end the turn."""
    base = tiny_base(context=4096)
    with torch.no_grad():
        for param in base.model.parameters():
            if param.dim() == 2:
                param.mul_(8)
    base.model.generation_config.eos_token_id = [122, 176, 351, 361]
    return base


def trained_model(base: BaseModel) -> tuple[EylaModel, UncertaintyHead]:
    model = EylaModel(base)
    for subsystem in default_subsystems(base):
        model.add(subsystem)
    make_nonzero(model)  # adapters, prefix and SSM side-cars all act on the replies
    head = model.subsystems["uncertainty"]
    assert isinstance(head, UncertaintyHead)
    with torch.no_grad():
        head.proj.weight.copy_(torch.randn(head.proj.weight.shape, generator=_gen(2)) * 0.3)
    return model, head


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batched(model: EylaModel, head: UncertaintyHead, cfg: DecodingConfig, batch_size: int):
    prompts = {
        q: model.prompt(agent_messages(SPEC, model, q), cfg.max_new_tokens).input_ids[0].tolist()
        for q in QUESTIONS
    }
    done: dict[str, Generated] = {}
    generate(model, head, prompts, cfg, batch_size, lambda g: done.__setitem__(g.key, g))
    return done


@pytest.fixture
def store(tmp_path: Path):
    with MemoryStore.open(tmp_path / "home", embedder=HashingEmbedder()) as opened:
        yield opened


def agent_on(model: EylaModel, store: MemoryStore, cfg: DecodingConfig, **agent) -> Agent:
    settings = Settings()
    settings.decoding = cfg
    settings.agent = settings.agent.model_copy(update={"recall_k": 0, **agent})
    return Agent(model, store, SPEC, settings)


def test_training_data_holds_the_state_the_agent_reads_after_a_reply(store):
    model, head = trained_model(lively_base())
    done = batched(model, head, SAMPLED, batch_size=3)
    assert len({g.tokens for g in done.values()}) > 2, "replies must end at different steps"
    agent = agent_on(model, store, SAMPLED, guard_retries=0, confidence_threshold=0.0)
    for question in QUESTIONS:
        agent.new_session()
        result = agent.turn(question)
        assert result is not None and not result.violations
        assert result.text == done[question].text or not done[question].text
        assert torch.allclose(head.last_hidden()[0].float(), done[question].hidden, atol=1e-4)
        with torch.no_grad():
            expected = float(head(done[question].hidden))
        assert result.confidence == pytest.approx(expected, abs=1e-5)


def test_batch_size_does_not_change_the_answers():
    model, head = trained_model(lively_base())
    one, many = batched(model, head, SAMPLED, 1), batched(model, head, SAMPLED, 8)
    for question in QUESTIONS:
        assert one[question].text == many[question].text
        assert torch.allclose(one[question].hidden, many[question].hidden, atol=1e-4)


def saved_head(directory: Path) -> UncertaintyHead:
    (head,) = [s for s in load_subsystems(tiny_base(), directory) if isinstance(s, UncertaintyHead)]
    return head


def test_temperature_is_saved_with_the_head_and_old_sets_load_with_t_1(tmp_path: Path):
    model, head = trained_model(tiny_base())
    with torch.no_grad():
        head.get_buffer("log_temperature").fill_(0.7)
    model.save_subsystems(tmp_path / "set")
    loaded = saved_head(tmp_path / "set")
    hidden = torch.randn(3, tiny_base().model.config.hidden_size, generator=_gen(4))
    assert loaded.temperature == pytest.approx(2.0137527, rel=1e-6)
    assert torch.equal(loaded(hidden), head(hidden))
    assert not torch.equal(loaded(hidden), torch.sigmoid(head.logit(hidden)))

    tensors = safetensors.torch.load_file(tmp_path / "set" / WEIGHTS)
    del tensors["uncertainty.log_temperature"]
    safetensors.torch.save_file(tensors, tmp_path / "set" / WEIGHTS)
    old = saved_head(tmp_path / "set")
    assert old.temperature == 1.0
    assert torch.equal(old(hidden), torch.sigmoid(head.logit(hidden)))


@pytest.mark.parametrize(
    ("bias", "hedge"), [(-30.0, "I don't know"), (-0.3, "not sure"), (30.0, "")]
)
def test_the_agent_hedges_below_the_threshold(store, bias: float, hedge: str):
    model, head = trained_model(lively_base())
    with torch.no_grad():
        head.proj.weight.mul_(1e-6)  # trained (non-zero) but negligible: the bias decides
        head.proj.bias.fill_(bias)
    cfg = SAMPLED.model_copy(update={"temperature": 0.0})
    result = agent_on(model, store, cfg, confidence_threshold=0.5).turn("fox dog")
    assert result is not None and result.confidence is not None
    if hedge:
        assert result.confidence < 0.5
        assert hedge in result.text.splitlines()[-1]
    else:
        assert result.confidence > 0.5
        assert "confidence" not in result.text


def test_an_untrained_head_keeps_the_gate_silent(store):
    model = EylaModel(lively_base())
    for subsystem in default_subsystems(model.base):
        model.add(subsystem)
    result = agent_on(model, store, SAMPLED).turn("fox dog")
    assert result is not None and result.confidence is None


# -- the command ----------------------------------------------------------------------------


def tiny_model_dir(tmp_path: Path) -> Path:
    base = lively_base()
    directory = tmp_path / "tiny"
    base.model.save_pretrained(directory)
    base.tokenizer.save_pretrained(directory)
    return directory


def text_label(item, reply: str) -> bool:
    """The tiny model never answers right; a label that depends on the reply keeps both
    classes present so every metric is defined."""
    return len(reply) % 2 == 0


def test_train_calibration_end_to_end(tmp_path: Path, eyla_home: Path, monkeypatch):
    from eyla.cli import app

    monkeypatch.setattr("eyla.training.calibration.is_right", text_label)
    model_dir = tiny_model_dir(tmp_path)
    args = ["train", "calibration", "--model", str(model_dir), "--max-new-tokens", "3"]
    runner = CliRunner()
    first = runner.invoke(app, [*args, "--batch-size", "64"])
    assert first.exit_code == 0, first.output
    out = eyla_home / "weights" / "identity"
    report = json.loads((out / "calibration.json").read_text())
    assert (out / "reliability.png").read_bytes().startswith(b"\x89PNG")
    assert report["splits"]["test"]["n"] > 100 and 0 < report["splits"]["test"]["right"] < 1
    for when in ("before", "after"):
        for metric in ("ece", "brier", "auroc"):
            interval = report[when][metric]
            assert interval["low"] <= interval["high"], (when, metric)
    assert report["generated"] == sum(split["n"] for split in report["splits"].values())
    assert "AUROC" in first.output and "after scaling" in first.output

    saved = {s.kind: s for s in load_subsystems(_reload(model_dir), out)}
    assert set(saved) == {"adapter", "prefix", "ssm", "uncertainty"}
    head = saved["uncertainty"]
    assert head.proj.weight.abs().sum() > 0
    assert head.temperature == pytest.approx(report["temperature"])
    weights = (out / WEIGHTS).read_bytes()

    again = runner.invoke(app, [*args, "--batch-size", "64"])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "calibration.json").read_text())["generated"] == 0, "cached"
    assert (out / WEIGHTS).read_bytes() == weights, "same seed, same head"


def test_train_calibration_never_writes_over_the_shipped_weights(tmp_path: Path):
    from eyla.cli import app
    from models.eyla_model import WEIGHTS_DIR

    args = ["train", "calibration", "--model", str(tiny_model_dir(tmp_path))]
    result = CliRunner().invoke(app, [*args, "--out", str(WEIGHTS_DIR / "x")])
    assert result.exit_code != 0
    assert not (WEIGHTS_DIR / "x").exists()


def _reload(model_dir: Path) -> BaseModel:
    from models.loading import load_base

    return load_base(str(model_dir), cache_dir=model_dir.parent / "cache")
