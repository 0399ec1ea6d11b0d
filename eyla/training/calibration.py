"""`eyla train calibration`: teach the uncertainty head when Eyla's answers are right.

The model answers every calibration question as the agent would (identity anchor as the
system prompt, the configured decoding); each answer is judged automatically and the
hidden state the head reads at run time is kept. The head is then fitted on the train
split with everything else frozen, its temperature on the calibration split, and ECE,
Brier and AUROC are measured on the test split before and after scaling. The updated set
(every subsystem, the new head) is saved with `calibration.json` and `reliability.png`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, Field

from eyla.config import DecodingConfig, Settings
from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.recall import with_notes
from eyla.training.calibration_cache import (
    CachedAnswer,
    append_answer,
    cache_key,
    read_answers,
)
from eyla.training.calibration_data import (
    SPLITS,
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
from eyla.training.calibration_generate import Generated, generate
from eyla.training.calibration_judge import abstains, is_right
from eyla.training.calibration_metrics import ece_if_calibrated, with_intervals
from eyla.training.calibration_report import (
    CalibrationReport,
    Group,
    Hedging,
    MixReport,
    write_reliability_diagram,
)
from eyla.training.identity_train import progress_bar
from models.eyla_model import WEIGHTS_DIR, EylaModel, attach_default_set
from models.generate import Message
from models.loading import load_base
from models.uncertainty import TEMPERATURE_KEY, UncertaintyHead

REPORT = "calibration.json"
DIAGRAM = "reliability.png"


class CalibrationConfig(BaseModel):
    seed: int = 0
    batch_size: int = Field(32, ge=1, description="answers generated side by side")
    max_new_tokens: int | None = Field(None, ge=1, description="None: the decoding settings'")
    folds: int = Field(5, ge=2, description="cross-validation folds choosing the L2 strength")
    resamples: int = Field(1000, ge=100, description="bootstrap resamples per interval")
    threshold: float = Field(0.5, gt=0, lt=1, description="the gate's: hedge below it")
    mix: bool = Field(True, description="also judge the head on the visible mixed set")


def load_trained_set(settings: Settings) -> tuple[EylaModel, Path | None]:
    """The model in `settings` with the set `load_eyla_model` would attach (the data dir's,
    then the shipped one, else fresh), a head added if the set has none; and where the set
    came from."""
    base = load_base(settings.model, cache_dir=settings.cache_dir, dtype=settings.dtype)
    model = EylaModel(base)
    attach_default_set(model, (settings.home / "weights", WEIGHTS_DIR))
    source = model.trained_set
    if not any(isinstance(sub, UncertaintyHead) for sub in model.subsystems):
        model.add(UncertaintyHead(base))
    return model, source


def default_out_dir(settings: Settings, source: Path | None) -> Path:
    """Back where the set came from when that is in the data dir, so the next start loads
    the calibrated head; else the data dir's `weights/identity`, where `eyla train
    identity` saves."""
    home_weights = (settings.home / "weights").resolve()
    if source is not None and source.resolve().is_relative_to(home_weights):
        return source
    return home_weights / "identity"


def calibrate(
    model: EylaModel,
    spec: IdentitySpec,
    decoding: DecodingConfig,
    cfg: CalibrationConfig,
    out_dir: Path,
    work_dir: Path,
    source_dir: Path | None = None,
    show_progress: bool = True,
) -> CalibrationReport:
    if out_dir.resolve().is_relative_to(WEIGHTS_DIR.resolve()):
        raise EylaError(f"refusing to write into the shipped weights ({WEIGHTS_DIR}): use --out")
    began = time.perf_counter()
    head = next(sub for sub in model.subsystems if isinstance(sub, UncertaintyHead))
    items = {
        item.id: item
        for item in [*load_items(), *identity_items(spec), *told_items(), *conversation_items()]
    }
    splits = split_items(list(items.values()), cfg.seed)
    decoding = decoding.model_copy(
        update={
            "max_new_tokens": cfg.max_new_tokens or decoding.max_new_tokens,
            # the agent's default seed is fixed; a None (fresh each reply) would make the
            # answers, and so the head, unrepeatable
            "seed": cfg.seed if decoding.seed is None else decoding.seed,
        }
    )
    answers, cache_path, generated, generation_seconds = _answer_all(
        model, head, spec, items, decoding, cfg.batch_size, work_dir, show_progress
    )
    right = {key: is_right(item, answers[key].text) for key, item in items.items()}
    data = {name: _tensors(split, answers, right) for name, split in splits.items()}
    fit = fit_head(*data["train"], folds=cfg.folds, seed=cfg.seed)
    with torch.no_grad():
        head.proj.weight.copy_(fit.weight.view(1, -1))
        head.proj.bias.fill_(fit.bias)
        t = fit_temperature(head.logit(data["calibration"][0]), data["calibration"][1])
        head.get_buffer(TEMPERATURE_KEY).fill_(t)
        test_features, test_labels = data["test"]
        before = torch.sigmoid(head.logit(test_features))
        after = head(test_features)
    metrics = {
        name: with_intervals(p, test_labels, resamples=cfg.resamples, seed=cfg.seed)
        for name, p in (("before", before), ("after", after))
    }
    model.save_subsystems(out_dir)
    confidence = dict(zip((i.id for i in splits["test"]), after.tolist(), strict=True))
    mix = _judge_mix(model, head, spec, decoding, cfg, work_dir, show_progress) if cfg.mix else None
    report = CalibrationReport(
        out_dir=out_dir,
        source_dir=source_dir,
        base_fingerprint=model.base.fingerprint,
        dtype=str(model.base.model.dtype).removeprefix("torch."),
        seed=cfg.seed,
        answers_cache=cache_path,
        generated=generated,
        generation_seconds=generation_seconds,
        seconds=time.perf_counter() - began,
        splits={name: _group(split, answers, right) for name, split in splits.items()},
        categories={
            category: _group(
                [i for i in splits["test"] if i.category == category], answers, right, confidence
            )
            for category in sorted({i.category for i in items.values()})
        },
        l2=fit.l2,
        cv_nll={f"{l2:g}": nll for l2, nll in fit.cv_nll.items()},
        temperature=head.temperature,
        before=metrics["before"],
        after=metrics["after"],
        ece_if_calibrated=ece_if_calibrated(after, resamples=cfg.resamples, seed=cfg.seed),
        hedging=hedging(splits["test"], right, confidence, cfg.threshold),
        mix=mix,
    )
    (out_dir / REPORT).write_text(report.model_dump_json(indent=2))
    write_reliability_diagram(
        out_dir / DIAGRAM,
        test_labels,
        {
            "before scaling (T = 1)": (before, metrics["before"]["ece"]),
            f"after scaling (T = {head.temperature:.2f})": (after, metrics["after"]["ece"]),
        },
    )
    _write_labelled(work_dir / "labelled.jsonl", items, splits, answers, right)
    return report


def hedging(
    items: Sequence[CalibrationItem],
    right: dict[str, bool],
    confidence: dict[str, float],
    threshold: float,
) -> Hedging:
    """How often a confidence under `threshold` (a hedge) comes with a right answer, and
    with a wrong answer to a factual question."""
    rights = [confidence[i.id] < threshold for i in items if right[i.id]]
    wrongs = [confidence[i.id] < threshold for i in items if not right[i.id] and is_factual(i)]
    return Hedging(
        threshold=threshold,
        right=len(rights),
        right_hedged=sum(rights) / max(len(rights), 1),
        wrong_factual=len(wrongs),
        wrong_factual_hedged=sum(wrongs) / max(len(wrongs), 1),
    )


def _judge_mix(
    model: EylaModel,
    head: UncertaintyHead,
    spec: IdentitySpec,
    decoding: DecodingConfig,
    cfg: CalibrationConfig,
    work_dir: Path,
    show_progress: bool,
) -> MixReport:
    """The fitted head on the visible mix, answered and judged as the test split is."""
    items = {item.id: item for item in mix_items()}
    answers, *_ = _answer_all(
        model, head, spec, items, decoding, cfg.batch_size, work_dir, show_progress
    )
    right = {key: is_right(item, answers[key].text) for key, item in items.items()}
    features, labels = _tensors(list(items.values()), answers, right)
    with torch.no_grad():
        p = head(features)
    confidence = dict(zip(items, p.tolist(), strict=True))
    kinds = sorted({i.category for i in items.values()})
    return MixReport(
        n=len(items),
        kinds={
            kind: _group(
                [i for i in items.values() if i.category == kind], answers, right, confidence
            )
            for kind in kinds
        },
        hedging=hedging(list(items.values()), right, confidence, cfg.threshold),
        metrics=with_intervals(p, labels, resamples=cfg.resamples, seed=cfg.seed),
    )


def _answer_all(
    model: EylaModel,
    head: UncertaintyHead,
    spec: IdentitySpec,
    items: dict[str, CalibrationItem],
    decoding: DecodingConfig,
    batch_size: int,
    work_dir: Path,
    show_progress: bool,
) -> tuple[dict[str, CachedAnswer], Path, int, float]:
    """Every item's answer and hidden state, from the cache where it has them; also the
    cache file, how many were generated now, and the seconds that took."""
    prompts = {
        key: model.prompt(
            agent_messages(spec, model, item.question, item.memories), decoding.max_new_tokens
        )
        .input_ids[0]
        .tolist()
        for key, item in items.items()
    }
    cache_path = work_dir / f"answers-{cache_key(model, prompts, decoding, batch_size)}.jsonl"
    answers = read_answers(cache_path)
    todo = {key: ids for key, ids in prompts.items() if key not in answers}
    began = time.perf_counter()
    with progress_bar(show_progress) as progress:
        task = progress.add_task("answering", total=len(prompts), completed=len(answers))

        def keep(done: Generated) -> None:
            assert done.hidden is not None, "generated with the head"
            answer = CachedAnswer(
                id=done.key, text=done.text, tokens=done.tokens, hidden=done.hidden.tolist()
            )
            append_answer(cache_path, answer)
            answers[done.key] = answer
            progress.advance(task)

        generate(model, head, todo, decoding, batch_size, keep)
    return answers, cache_path, len(todo), time.perf_counter() - began


def agent_messages(
    spec: IdentitySpec, model: EylaModel, question: str, memories: Sequence[str] = ()
) -> list[Message]:
    """What `Agent.turn()` sends for a first message, with `memories` recalled."""
    system = with_notes(spec.system_prompt(model.system_prompt), memories)
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def _tensors(
    split: list[CalibrationItem], answers: dict[str, CachedAnswer], right: dict[str, bool]
) -> tuple[torch.Tensor, torch.Tensor]:
    features = torch.tensor([answers[item.id].hidden for item in split], dtype=torch.float32)
    labels = torch.tensor([float(right[item.id]) for item in split])
    return features, labels


def _group(
    items: list[CalibrationItem],
    answers: dict[str, CachedAnswer],
    right: dict[str, bool],
    confidence: dict[str, float] | None = None,
) -> Group:
    n = max(1, len(items))
    return Group(
        n=len(items),
        right=sum(right[i.id] for i in items) / n,
        abstained=sum(abstains(answers[i.id].text) for i in items) / n,
        confidence=None if confidence is None else sum(confidence[i.id] for i in items) / n,
    )


def _write_labelled(
    path: Path,
    items: dict[str, CalibrationItem],
    splits: dict[str, list[CalibrationItem]],
    answers: dict[str, CachedAnswer],
    right: dict[str, bool],
) -> None:
    """Every question, reply and verdict, for reading what the judge decided."""
    split_of = {item.id: name for name in SPLITS for item in splits[name]}
    lines = [
        json.dumps(
            {
                "id": key,
                "split": split_of[key],
                "category": item.category,
                "question": item.question,
                "reply": answers[key].text,
                "right": right[key],
            }
        )
        for key, item in items.items()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
