"""Calibration building blocks: data, answer checking, head and temperature fitting, metrics."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from eyla.errors import EylaError
from eyla.identity import load_identity
from eyla.training.calibration import hedging
from eyla.training.calibration_data import (
    CALIBRATION_DIR,
    CalibrationItem,
    conversation_items,
    identity_items,
    is_factual,
    load_items,
    mix_items,
    split_items,
    told_items,
)
from eyla.training.calibration_fit import fit_head, fit_temperature
from eyla.training.calibration_judge import abstains, is_right, normalise
from eyla.training.calibration_metrics import (
    auroc,
    brier,
    ece,
    ece_if_calibrated,
    with_intervals,
)
from eyla.training.identity_data import identity_examples

# -- data -------------------------------------------------------------------------------


def all_items() -> list[CalibrationItem]:
    return [*load_items(), *identity_items(load_identity())]


def test_shipped_data_has_every_kind_of_question_and_no_answer_given_away():
    items = all_items()
    categories = {item.category for item in items}
    assert {"arithmetic", "capitals", "facts", "unanswerable", "identity"} <= categories
    assert len(items) >= 1000
    assert sum(item.unanswerable for item in items) >= 200
    assert len({item.question for item in items}) == len(items), "a question asked twice"
    for item in items:
        # an answer the question already contains would be "right" whenever it is echoed
        question = f" {normalise(item.question)} "
        assert not any(f" {normalise(a)} " in question for a in item.answers), item.id


def test_calibration_questions_are_not_identity_training_prompts():
    trained = {
        normalise(turn["content"])
        for example in identity_examples(load_identity())
        for turn in example.turns
        if turn["role"] == "user"
    }
    shipped = {normalise(item.question) for item in load_items()}
    assert not shipped & trained


def test_split_is_deterministic_stratified_and_disjoint():
    items = all_items()
    first, again, other = (split_items(items, seed) for seed in (0, 0, 1))
    assert first == again
    assert first != other
    ids = [[i.id for i in first[name]] for name in ("train", "calibration", "test")]
    assert sum(map(len, ids)) == len(items) == len(set().union(*map(set, ids)))
    for category in {i.category for i in items}:
        total = sum(i.category == category for i in items)
        test = sum(i.category == category for i in first["test"])
        assert abs(test - 0.5 * total) <= 1, category


def test_bad_data_lines_are_one_clear_error(tmp_path: Path):
    (tmp_path / "mixed.jsonl").write_text(
        json.dumps({"id": "a", "question": "Q?", "answers": ["x"], "unanswerable": True}) + "\n"
    )
    with pytest.raises(EylaError, match=r"mixed.jsonl:1: .*exactly one"):
        load_items(tmp_path)
    (tmp_path / "mixed.jsonl").write_text("{not json\n")
    with pytest.raises(EylaError, match=r"mixed.jsonl:1: not valid JSON"):
        load_items(tmp_path)


def test_every_shipped_line_is_valid_json():
    for path in CALIBRATION_DIR.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            assert isinstance(json.loads(line), dict), path


# -- answer checking ----------------------------------------------------------------------

SUM = CalibrationItem(id="sum", question="What is 8 times 7?", answers=["56"])
CAPITAL = CalibrationItem(id="cap", question="Capital of Iceland?", answers=["Reykjavik"])
CREATOR = CalibrationItem(id="who", question="Who made you?", answers=["Eyla open-source project"])
PRIVATE = CalibrationItem(id="mine", question="What is my mother's name?", unanswerable=True)


@pytest.mark.parametrize(
    ("item", "reply", "right"),
    [
        (SUM, "8 x 7 = 56.", True),
        (SUM, "The answer is fifty-six.", True),
        (SUM, "8 * 7 = 54", False),
        (SUM, "7 x 8 = 54, not 56", False),  # the first new number is the answer given
        (SUM, "I don't know.", False),
        (CAPITAL, "The capital of Iceland is Reykjavík.", True),  # accents normalised
        (CAPITAL, "It is Oslo.", False),
        (CREATOR, "I was made by the Eyla open source project.", True),
        (CREATOR, "OpenAI made me.", False),
        (PRIVATE, "I don't know your mother's name: you haven't told me.", True),
        (PRIVATE, "There's no way for me to know that.", True),
        (PRIVATE, "Your mother's name is Maria.", False),
        # reciting a value that quotes the phrase is not admitting anything
        (PRIVATE, 'I value honesty, including saying "I don\'t know" when it is true.', False),
    ],
)
def test_answer_checker(item: CalibrationItem, reply: str, right: bool):
    assert is_right(item, reply) is right


def test_abstention_matcher_reads_typographic_apostrophes():
    assert abstains("I don’t know what you ate.")
    assert not abstains("I know exactly what you ate: pasta.")


# -- fitting ------------------------------------------------------------------------------


def test_temperature_fit_recovers_a_known_temperature():
    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(20000, generator=generator) * 3
    labels = torch.bernoulli(torch.sigmoid(true_logits), generator=generator)
    # an overconfident model: its logits are the true ones times 2.5
    t = fit_temperature(true_logits * 2.5, labels)
    assert math.exp(t) == pytest.approx(2.5, rel=0.05)


def test_head_on_separable_features_ranks_right_answers_first():
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(400, generator=generator) < 0.5).float()
    features = torch.randn(400, 32, generator=generator)
    features[:, 3] += 3 * (2 * labels - 1)  # one informative direction among 32
    fit = fit_head(features[:300], labels[:300])
    held_out = torch.sigmoid(features[300:] @ fit.weight + fit.bias)
    assert auroc(held_out, labels[300:]) > 0.95
    assert fit.l2 in fit.cv_nll


# -- metrics ------------------------------------------------------------------------------


def test_metrics_on_known_inputs():
    p = torch.tensor([0.9, 0.9, 0.9, 0.9, 0.2, 0.2, 0.2, 0.2, 0.2])
    y = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    # two occupied bins: |0.9 - 0.75| * 4/9 + |0.2 - 0.2| * 5/9
    assert ece(p, y) == pytest.approx(0.15 * 4 / 9, abs=1e-6)
    expected_brier = (3 * 0.01 + 0.81 + 4 * 0.04 + 0.64) / 9
    assert brier(p, y) == pytest.approx(expected_brier)
    # of the 4 x 5 (right, wrong) pairs, ranked right first: each 0.9 right beats the four
    # 0.2 wrong and ties the 0.9 wrong (3 x 4.5); the 0.2 right ties four (2): 15.5 / 20
    assert auroc(p, y) == pytest.approx(15.5 / 20)
    assert ece(torch.ones(4), torch.ones(4)) == pytest.approx(0.0, abs=1e-5)  # 1.0 is binned
    assert math.isnan(auroc(p, torch.ones(9)))


def test_bootstrap_intervals_bracket_the_estimate_and_repeat():
    generator = torch.Generator().manual_seed(1)
    p = torch.rand(300, generator=generator)
    y = torch.bernoulli(p, generator=generator)
    first = with_intervals(p, y, resamples=200, seed=3)
    assert first == with_intervals(p, y, resamples=200, seed=3)
    for name in ("brier", "auroc"):
        assert first[name].low <= first[name].value <= first[name].high, name
    assert first["auroc"].low > 0.6


def test_the_ece_of_a_calibrated_head_shrinks_with_the_sample_and_sits_above_zero():
    generator = torch.Generator().manual_seed(2)
    small, large = torch.rand(100, generator=generator), torch.rand(5000, generator=generator)
    floor_small = ece_if_calibrated(small, resamples=200, seed=0)
    floor_large = ece_if_calibrated(large, resamples=200, seed=0)
    assert floor_small == ece_if_calibrated(small, resamples=200, seed=0)
    assert 0 < floor_large.value < floor_small.value
    assert floor_small.low <= floor_small.value <= floor_small.high
    # a head that is off by 0.2 everywhere scores far above the floor
    y = torch.bernoulli(large, generator=generator)
    assert ece(large, y) < floor_large.high
    assert ece((large + 0.2).clamp(0, 1), y) > floor_large.high


def test_the_visible_mix_holds_every_kind_of_turn():
    items = mix_items()
    kinds = {i.category for i in items}
    assert kinds == {"factual", "identity", "told", "conversation"}
    # large enough that ECE over 15 bins can tell a calibrated head (about 0.04 here)
    assert len(items) >= 800
    told = [i for i in items if i.category == "told"]
    assert told and all(i.memories for i in told)
    assert all(i.conversational == (i.category == "conversation") for i in items)


def test_the_visible_mix_repeats_no_question_the_head_trains_on():
    def words(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9 ]", "", text.lower()).split())

    spec = load_identity()
    trained = [*load_items(), *identity_items(spec), *told_items(), *conversation_items()]
    asked = {words(i.question) for i in trained}
    mix = [words(i.question) for i in mix_items()]
    assert len(set(mix)) == len(mix)
    assert not asked & set(mix)


def test_hedge_rates_count_right_answers_and_wrong_factual_ones():
    fact = CalibrationItem(id="f", question="Capital of Chad?", answers=["N'Djamena"])
    fact2 = CalibrationItem(id="g", question="2+2?", answers=["4"])
    told = CalibrationItem(id="t", question="My cat?", answers=["Miso"], category="told")
    chat = CalibrationItem(id="c", question="Thanks!", conversational=True)
    right = {"f": False, "g": True, "t": False, "c": True}
    confidence = {"f": 0.2, "g": 0.9, "t": 0.1, "c": 0.3}
    rates = hedging([fact, fact2, told, chat], right, confidence, threshold=0.5)
    assert (rates.right, rates.right_hedged) == (2, 0.5)  # the chat reply was hedged
    # a wrong answer about what the user said is not a factual miss
    assert (rates.wrong_factual, rates.wrong_factual_hedged) == (1, 1.0)
    assert is_right(chat, "anything at all") and not is_factual(told) and is_factual(fact)
