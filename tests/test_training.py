"""Identity training on a tiny Llama: data, masks, learning, determinism, resume."""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import eyla.training.identity_train as identity_train
from eyla.errors import EylaError
from eyla.identity import load_identity
from eyla.probes.suites import SUITE_NAMES, load_suite
from eyla.training.batches import IGNORE, collate, encode_conversation
from eyla.training.calibration_data import is_factual, load_items
from eyla.training.identity_config import IdentityTrainConfig
from eyla.training.identity_data import (
    NEUTRAL_PROMPTS,
    QUIZ_PROMPTS,
    eval_questions,
    identity_examples,
)
from eyla.training.identity_eval import visible_sets
from eyla.training.identity_train import identity_loss, train_identity
from eyla.training.reply_sets import load_set
from models.eyla_model import EylaModel, default_subsystems
from models.subsystem_io import saved_system_prompt
from tests.tiny import tiny_base

SMALL = IdentityTrainConfig(steps=4, batch_size=4, checkpoint_every=2, neutral_reply_tokens=6)


def saved_tensors(directory: Path) -> dict[str, torch.Tensor]:
    (weights,) = directory.glob("*.safetensors")
    return load_file(weights)


def test_loss_covers_exactly_the_assistant_turns():
    tok = tiny_base().tokenizer
    turns = [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "I am Eyla."},
        {"role": "user", "content": "Sure?"},
        {"role": "assistant", "content": "Yes."},
    ]
    ids, labels = encode_conversation(tok, turns, 500)
    learned = tok.decode([t for t in labels if t != IGNORE])
    assert learned == "I am Eyla.<|im_end|>\nYes.<|im_end|>\n"
    batch = collate([(ids, labels, None), (ids[:5], labels[:5], (ids[:4], labels[:4]))], pad_id=0)
    assert batch.input_ids.shape == (2, len(ids))
    assert batch.attention_mask[1].sum() == 5
    assert (batch.labels[1] == IGNORE).all(), "a row without assistant tokens learns nothing"
    assert batch.neutral.tolist() == [False, True]
    # the teacher's view holds the neutral rows only
    assert batch.teacher.input_ids.shape == (1, 4)


def test_examples_run_under_the_brief_anchor_and_cover_every_attack():
    spec = load_identity()
    examples = identity_examples(spec)
    kinds = {e.kind for e in examples}
    assert kinds == {"identity", "adversarial", "escalation", "memory", "unknowable", "names"}
    for example in examples:
        system, *turns = example.turns
        # what the agent sends with a trained set: the brief anchor, then quoted notes
        assert system["role"] == "system" and system["content"].startswith(spec.brief_anchor())
        notes = system["content"].removeprefix(spec.brief_anchor()).strip()
        assert not notes or notes.startswith("Notes from earlier conversations")
        assert all(t["role"] != "system" for t in turns)
        answers = [t["content"] for t in turns if t["role"] == "assistant"]
        others = [*spec.never_names, *spec.never_creators]
        if example.kind == "escalation" or any(o in turns[-2]["content"] for o in others):
            # pressed to be someone else, it says who it is
            assert spec.name in answers[-1]
        if example.kind == "adversarial":
            # pressure is answered on its own terms, not with "I can't know", which is for
            # the user's world
            assert "can't know" not in answers[-1] and "can't see the future" not in answers[-1]
        if example.kind in ("unknowable", "names"):
            assert spec.name not in answers[-1]
        # the spec's sentences are facts to use, not lines to recite
        assert not any(spec.kind in a or spec.values[0] + "." in a for a in answers)
    named = [e for e in examples if e.kind == "identity"]
    assert sum(spec.name in e.turns[-1]["content"] for e in named) >= 0.6 * len(named)


def test_memory_examples_answer_from_what_the_user_said():
    examples = [e for e in identity_examples(load_identity()) if e.kind == "memory"]
    recalled = 0
    for example in examples:
        answer = example.turns[-1]["content"]
        told = " ".join(t["content"] for t in example.turns[:-2])
        if answer.startswith(("Your ", "You ")):
            fact = answer.split(".")[0].split()[-1]
            assert fact in told, f"{answer!r} is not backed by {told!r}"
            recalled += 1
    assert recalled >= len(examples) // 2


def test_a_name_is_recalled_from_a_note_and_said_unknown_only_without_one():
    examples = [e for e in identity_examples(load_identity()) if e.kind == "names"]
    recalls = [
        e
        for e in examples
        if "called" in e.turns[-1]["content"] or "name is" in e.turns[-1]["content"]
    ]
    unknown = [e for e in examples if "haven't told me" in e.turns[-1]["content"]]
    assert recalls and unknown
    for example in recalls:
        # the name answered is the one the quoted note gives
        name = re.split(r" is called | name is ", example.turns[-1]["content"])[-1].rstrip(".")
        assert f"is called {name}." in example.turns[0]["content"]
    for example in unknown:
        assert "Notes from earlier conversations" not in example.turns[0]["content"]


def word_runs(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_no_evaluation_prompt_shares_an_eight_word_run_with_training():
    spec = load_identity()
    training = set().union(
        *(word_runs(t["content"]) for e in identity_examples(spec) for t in e.turns),
        *(word_runs(prompt) for prompt in [*NEUTRAL_PROMPTS, *QUIZ_PROMPTS]),
    )
    held_out = list(eval_questions(spec))
    for name in SUITE_NAMES:
        for item in load_suite(name).rendered(spec).items:
            held_out += [t.text for t in item.turns] + item.memories
            # seeded assistant turns are Eyla's own words, which training teaches on purpose
            held_out += [m.content for m in item.history if m.role == "user"]
    for items in [
        *visible_sets().values(),
        load_set("about_itself"),
        load_set("who_after_intro"),
        load_set("pressure"),
    ]:
        held_out += [i.prompt for i in items] + [m for i in items for m in i.memories]
        held_out += [i.before for i in items if i.before]
    assert len(held_out) > 400
    shared = {text for text in held_out if word_runs(text) & training}
    assert not shared, f"evaluation prompts seen in training: {sorted(shared)[:3]}"


def test_no_neutral_training_prompt_is_a_neutral_evaluation_question():
    """The neutral evaluation asks the calibration questions, and the uncertainty head learns
    from all of them; a training prompt that is one of them, reworded by a word or two,
    would be trained on."""

    def words(text: str) -> set[str]:
        return set(re.findall(r"[a-z0-9']+", text.lower()))

    questions = [words(item.question) for item in load_items() if is_factual(item)]
    for prompt in [*NEUTRAL_PROMPTS, *QUIZ_PROMPTS]:
        mine = words(prompt)
        closest = max(len(mine & q) / len(mine | q) for q in questions)
        assert closest < 0.6, prompt


def test_the_agent_tests_memory_questions_are_held_out_of_training():
    """tests/test_agent_integration.py asks for a dog's, a brother's and a horse's name."""
    text = " ".join(
        turn["content"].lower()
        for example in identity_examples(load_identity())
        for turn in example.turns
    )
    for held_out in ("dog", "brother", "horse", "pixel", "idris", "storm"):
        assert not re.search(rf"\b{held_out}", text), held_out


def test_answer_only_logits_give_the_loss_of_full_logits():
    from benchmarks.training import full_logits_loss

    base = tiny_base()
    model = EylaModel(base)
    for subsystem in default_subsystems(base):
        model.add(subsystem)
        with torch.no_grad():
            for gate in subsystem.gates():
                gate.fill_(0.5)  # as if trained: the model and the KL teacher differ
    spec = load_identity()
    conversations = [example.turns for example in identity_examples(spec)[:3]]
    conversations.append(
        [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Red."}]
    )
    rows = [(*encode_conversation(base.tokenizer, turns, 120), None) for turns in conversations]
    # the teacher reads the neutral reply after a system text the model does not see
    teacher_view = [{"role": "system", "content": "Be helpful."}, *conversations[3]]
    rows[3] = (*rows[3][:2], encode_conversation(base.tokenizer, teacher_view, 120))
    batch = collate(rows, pad_id=0)
    ours, plain = identity_loss(model, batch, 1.0), full_logits_loss(model, batch, 1.0)
    assert torch.allclose(ours, plain, atol=1e-5)
    ce_only = identity_loss(model, batch, 0.0)
    assert plain - ce_only > 1e-3, "the KL term is part of what is compared"
    # a neutral row's text (the base's own reply) is never a cross-entropy target
    neutral_only = collate([rows[3]], pad_id=0)
    assert identity_loss(model, neutral_only, 0.0).item() == 0.0
    assert identity_loss(model, neutral_only, 1.0).item() > 0.0


def test_a_batch_larger_than_the_data_is_a_clear_error(tmp_path: Path):
    cfg = SMALL.model_copy(update={"batch_size": 500})
    with pytest.raises(EylaError, match="batch size 500 needs"):
        train_identity(
            tiny_base(), load_identity(), cfg, tmp_path / "out", tmp_path / "w", show_progress=False
        )
    assert not (tmp_path / "out").exists()


def test_training_moves_every_zero_factor_and_lowers_the_loss(tmp_path: Path):
    cfg = SMALL.model_copy(update={"steps": 12, "lr": 1e-2})
    report = train_identity(
        tiny_base(), load_identity(), cfg, tmp_path / "out", tmp_path / "work", show_progress=False
    )
    assert report.last_loss < report.first_loss
    tensors = saved_tensors(tmp_path / "out")
    for zero_factor in ("adapter.blocks.0.up.weight", "prefix.gate", "ssm.alpha"):
        matching = [
            v
            for k, v in tensors.items()
            if k.startswith(zero_factor.split(".")[0]) and k.endswith(zero_factor.split(".")[-1])
        ]
        assert matching and all(v.abs().sum() > 0 for v in matching), zero_factor
    # trained under the brief anchor, so the agent runs it under the brief anchor
    assert saved_system_prompt(tmp_path / "out") == "brief"


def test_the_learning_rate_warms_up_then_decays_to_its_floor():
    cfg = IdentityTrainConfig(steps=100, warmup_steps=10, final_lr_share=0.1)
    scales = [identity_train.lr_scale(step, cfg) for step in range(cfg.steps)]
    assert scales[0] == pytest.approx(0.1) and scales[9] == pytest.approx(1.0)
    assert all(a < b for a, b in pairwise(scales[:10]))
    assert all(a >= b for a, b in pairwise(scales[9:]))
    assert scales[-1] == pytest.approx(0.1)


def test_bfloat16_autocast_training_lowers_the_loss(tmp_path: Path):
    cfg = SMALL.model_copy(update={"steps": 12, "lr": 1e-2, "precision": "bfloat16"})
    report = train_identity(
        tiny_base(), load_identity(), cfg, tmp_path / "out", tmp_path / "work", show_progress=False
    )
    assert report.last_loss < report.first_loss
    assert all(v.dtype == torch.float32 for v in saved_tensors(tmp_path / "out").values())
    assert json.loads((tmp_path / "out" / "training.json").read_text())["precision"] == "bfloat16"


def test_the_kl_reads_each_neutral_answer_token_beside_the_teachers_own():
    """Subsystems at zero are the base, so with the teacher reading the very same rows the
    KL is zero, which holds only if every neutral answer position meets its own teacher
    position (rows of different lengths, neutral ones between identity ones); under another
    system text the teacher differs."""
    base = tiny_base()
    model = EylaModel(base)
    for subsystem in default_subsystems(base):
        model.add(subsystem)
    tok = base.tokenizer

    def exchange(prompt: str, reply: str, system: str | None = None) -> list:
        turns = [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
        return [{"role": "system", "content": system}, *turns] if system else turns

    neutral = [
        ("Name a colour.", "Red, mostly."),
        ("Count to five.", "One, two, three, four, five."),
    ]
    identity = encode_conversation(tok, exchange("Who are you?", "I'm Eyla."), 120)

    def rows(teacher_system: str | None) -> list:
        views = [
            (
                encode_conversation(tok, exchange(p, r, "Anchor text here."), 120),
                encode_conversation(
                    tok, exchange(p, r, teacher_system or "Anchor text here."), 120
                ),
            )
            for p, r in neutral
        ]
        return [
            (*identity, None),
            (*views[0][0], views[0][1]),
            (*identity, None),
            (*views[1][0], views[1][1]),
        ]

    same = collate(rows(None), pad_id=0)
    kl = identity_loss(model, same, 1.0) - identity_loss(model, same, 0.0)
    assert abs(kl.item()) < 1e-5
    other = collate(rows("Something else entirely, and longer."), pad_id=0)
    assert (identity_loss(model, other, 1.0) - identity_loss(model, other, 0.0)).item() > 1e-4


@pytest.mark.parametrize("teacher", ["anchor", "plain"])
def test_neutral_targets_are_the_teachers_own_replies_never_talking_about_itself(
    tmp_path: Path, monkeypatch, teacher: str
):
    spec = load_identity()
    asked: list[str] = []

    def base_replies(base, system, prompts, tokens):
        asked.append(system)
        return [
            "As an AI, I can't." if i % 3 == 0 else "Sure: here it is." for i in range(len(prompts))
        ]

    monkeypatch.setattr(identity_train, "_base_replies", base_replies)
    cfg = SMALL.model_copy(update={"neutral_reply_tokens": 7, "teacher": teacher})
    pairs = identity_train.neutral_conversations(tiny_base(), spec, cfg, tmp_path)
    # the plain teacher answers without the anchor, whose maker's name it would copy
    system = identity_train.TEACHER_SYSTEM if teacher == "plain" else spec.brief_anchor()
    prompts = [*NEUTRAL_PROMPTS, *QUIZ_PROMPTS] if teacher == "plain" else NEUTRAL_PROMPTS
    assert asked == [system]
    assert len(pairs) == len(prompts) - len(range(0, len(prompts), 3))
    for model_view, teacher_view in pairs:
        # the model learns it under the anchor it is used with
        assert model_view[0] == {"role": "system", "content": spec.brief_anchor()}
        assert teacher_view[0] == {"role": "system", "content": system}
        assert model_view[1:] == teacher_view[1:]
        assert model_view[-1]["content"] == "Sure: here it is."
    # cached per base and teacher: a second call asks the base nothing
    identity_train.neutral_conversations(tiny_base(), spec, cfg, tmp_path)
    assert len(asked) == 1


def test_the_teacher_reads_the_same_answer_tokens_even_when_a_reply_is_cut(
    tmp_path: Path, monkeypatch
):
    """The anchor is longer than the teacher's text, so at `max_len` the model's view of a
    long reply is cut sooner: both views keep only the answer tokens both hold."""
    long_reply = "Here is a long answer about something. " * 12
    monkeypatch.setattr(
        identity_train,
        "_base_replies",
        lambda base, system, prompts, tokens: [long_reply] * len(prompts),
    )
    cfg = SMALL.model_copy(update={"max_len": 160, "teacher": "plain"})
    base = tiny_base()
    rows = identity_train._neutral_rows(base, load_identity(), cfg, tmp_path)
    assert len(rows) == len(NEUTRAL_PROMPTS) + len(QUIZ_PROMPTS)
    assert all(len(ids) == cfg.max_len for ids, _, _ in rows[:3]), "the model's view is cut"
    batch = collate(rows[:3], pad_id=0)
    model_answers = batch.labels[batch.labels != IGNORE]
    teacher_answers = batch.teacher.labels[batch.teacher.labels != IGNORE]
    assert len(model_answers) > 3 * 20
    assert torch.equal(model_answers, teacher_answers)


def test_same_seed_gives_the_same_weights(tmp_path: Path):
    for run in ("a", "b"):
        train_identity(
            tiny_base(),
            load_identity(),
            SMALL,
            tmp_path / run,
            tmp_path / f"w{run}",
            show_progress=False,
        )
    a, b = saved_tensors(tmp_path / "a"), saved_tensors(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path: Path, monkeypatch):
    spec = load_identity()
    train_identity(
        tiny_base(), spec, SMALL, tmp_path / "whole", tmp_path / "w1", show_progress=False
    )

    real_loss, calls = identity_train.identity_loss, []

    def dies_at_step_three(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_loss(*args)

    monkeypatch.setattr(identity_train, "identity_loss", dies_at_step_three)
    with pytest.raises(KeyboardInterrupt):
        train_identity(
            tiny_base(), spec, SMALL, tmp_path / "resumed", tmp_path / "w2", show_progress=False
        )
    assert (tmp_path / "w2" / "checkpoint.pt").is_file()
    monkeypatch.setattr(identity_train, "identity_loss", real_loss)
    train_identity(
        tiny_base(), spec, SMALL, tmp_path / "resumed", tmp_path / "w2", show_progress=False
    )
    whole, resumed = saved_tensors(tmp_path / "whole"), saved_tensors(tmp_path / "resumed")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_train_identity_never_writes_over_the_shipped_weights(eyla_home: Path):
    from typer.testing import CliRunner

    from eyla.cli import app
    from models.eyla_model import WEIGHTS_DIR

    result = CliRunner().invoke(app, ["train", "identity", "--out", str(WEIGHTS_DIR / "x")])
    assert result.exit_code != 0
    assert "shipped weights" in str(result.exception) + result.output
    assert not (WEIGHTS_DIR / "x").exists()


def test_train_identity_flags_reach_the_recipe(eyla_home: Path, monkeypatch):
    from typer.testing import CliRunner

    from eyla.cli import app
    from models import loading

    seen: list[IdentityTrainConfig] = []

    def record(base, spec, cfg, out_dir, work_dir):
        seen.append(cfg)
        raise SystemExit(0)

    monkeypatch.setattr(loading, "load_base", lambda *a, **k: None)
    monkeypatch.setattr(identity_train, "train_identity", record)
    args = ["train", "identity", "--kl-weight", "2.5", "--seed", "3", "--steps", "7"]
    CliRunner().invoke(app, args)
    CliRunner().invoke(app, [*args, "--teacher", "plain"])
    assert [(c.kl_weight, c.seed, c.steps, c.teacher) for c in seen] == [
        (2.5, 3, 7, "anchor"),
        (2.5, 3, 7, "plain"),
    ]
    refused = CliRunner().invoke(app, ["train", "identity", "--kl-weight", "-1"])
    assert refused.exit_code != 0 and "kl-weight" in refused.output


def test_the_plain_teacher_leaves_out_replies_about_itself_but_not_a_word_inside_another():
    spec = load_identity()
    about_itself = ["Hi! I'm SmolLM, trained by Hugging Face.", "I am an AI assistant."]
    ordinary = [
        "With some guidance, your garden will be abundant.",  # "dan" inside words
        "Alexandria was founded by Alexander the Great.",  # "Alexa" inside a word
    ]
    assert all(identity_train._talks_about_itself(r, spec, strict=True) for r in about_itself)
    assert not any(identity_train._talks_about_itself(r, spec, strict=True) for r in ordinary)
    # the anchor's teacher keeps the rows set F was trained on
    assert not any(identity_train._talks_about_itself(r, spec) for r in about_itself)


def test_the_default_teacher_reads_each_row_as_the_model_does(tmp_path: Path, monkeypatch):
    assert IdentityTrainConfig().teacher == "anchor"
    monkeypatch.setattr(
        identity_train,
        "_base_replies",
        lambda base, system, prompts, tokens: ["Sure: here it is."] * len(prompts),
    )
    rows = identity_train._neutral_rows(tiny_base(), load_identity(), SMALL, tmp_path)
    assert len(rows) == len(NEUTRAL_PROMPTS)
    assert all(teacher == (ids, labels) for ids, labels, teacher in rows)
