"""The tracer: per-reply contributions and the ablation tracer's figures on a tiny Llama,
and Shapley attribution on games whose answers are known."""

from __future__ import annotations

import pytest
import torch

from eyla.errors import EylaError
from models.ablation import AblationTracer, Group, Probe
from models.adapter import Adapter
from models.eyla_model import EylaModel
from models.shapley import (
    every_coalition,
    exact_interactions,
    exact_shapley,
    order_coalitions,
    sample_orders,
    sampled_shapley,
)
from models.subsystem import Subsystem
from models.tracer import kl_per_token, reply_contributions, reply_tokens
from tests.models.util import make_nonzero, with_defaults
from tests.tiny import tiny_base

MESSAGES = [{"role": "user", "content": "Who are you?"}]
REPLY = "I am Eyla, an identity-anchored assistant."
SYSTEM = {"role": "system", "content": "You are Eyla. Answer briefly and kindly."}
EXCHANGES = [
    ("Who are you?", "I am Eyla, an identity-anchored assistant."),
    ("What is the capital of France?", "Paris. My dog is called Pixel."),
    ("Say something.", "The quick brown fox jumps over the lazy dog."),
]


def probes() -> list[Probe]:
    return [Probe.fixed([SYSTEM, {"role": "user", "content": q}], reply) for q, reply in EXCHANGES]


def groups_of(eyla: EylaModel) -> list[Group]:
    return [Group(s.name, (s.name,)) for s in eyla.subsystems]


def trained() -> EylaModel:
    eyla = with_defaults(tiny_base())
    make_nonzero(eyla)
    return eyla


def test_fresh_subsystems_contribute_exactly_nothing():
    eyla = with_defaults(tiny_base())
    contributions = reply_contributions(eyla, MESSAGES, REPLY)
    assert set(contributions) == {s.name for s in eyla.subsystems.neural()}
    assert all(value == 0.0 for value in contributions.values())


def test_a_trained_subsystem_shows_up_and_an_untouched_one_does_not():
    eyla = with_defaults(tiny_base())
    make_nonzero(eyla)
    adapter = eyla.subsystems["adapter"]
    with torch.no_grad():
        for gate in eyla.subsystems["prefix"].gates():
            gate.zero_()
    contributions = reply_contributions(eyla, MESSAGES, REPLY)
    assert contributions[adapter.name] > 1e-4
    assert contributions["prefix"] == 0.0


def test_kl_is_zero_for_identical_and_positive_for_different_distributions():
    p = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0]]), dim=-1)
    q = torch.log_softmax(torch.tensor([[0.0, 2.0, -1.0]]), dim=-1)
    assert kl_per_token(p, p).item() == 0.0
    assert kl_per_token(p, q).item() > 0.5


def test_a_gate_at_zero_measures_exactly_zero_on_every_figure():
    eyla = trained()
    with torch.no_grad():
        for gate in eyla.subsystems["prefix"].gates():
            gate.zero_()
    trace = AblationTracer(eyla, groups_of(eyla), batch_size=2).run(probes())
    prefix = trace.ablations["prefix"]
    assert (prefix.kl_mean, prefix.kl_p95, prefix.flip_rate, prefix.nll_change) == (0, 0, 0, 0)
    assert trace.residual_share["prefix"] == 0.0
    assert trace.shapley["prefix"] == 0.0
    assert all(v == 0.0 for pair, v in trace.interactions.items() if "prefix" in pair)
    # the others did move, so the zeros above are not a tracer that measures nothing
    assert trace.ablations["adapter"].kl_mean > 1e-4
    assert trace.residual_share["ssm"] > 0.0


def test_the_stronger_of_two_subsystems_ranks_first():
    base = tiny_base()
    eyla = EylaModel(base)
    direction = torch.Generator().manual_seed(3)
    for name, scale in (("weak", 0.05), ("strong", 0.5)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)  # the same down-projections: only the scale differs
            adapter = eyla.add(Adapter(base, name=name, layers=[1, 2]))
        with torch.no_grad():
            for up in adapter.gates():
                up.copy_(torch.randn(up.shape, generator=direction) * scale)
    trace = AblationTracer(eyla, groups_of(eyla)).run(probes())
    assert max(trace.shapley, key=trace.shapley.get) == "strong"
    assert trace.ablations["strong"].kl_mean > trace.ablations["weak"].kl_mean > 0
    assert trace.residual_share["strong"] > trace.residual_share["weak"] > 0
    # efficiency: the Shapley values share out exactly the total effect
    assert sum(trace.shapley.values()) == pytest.approx(trace.total.kl_mean, rel=1e-9)


def test_switching_everything_off_gives_the_bare_base_logits_exactly():
    eyla = trained()
    tracer = AblationTracer(eyla, groups_of(eyla), batch_size=2)
    bare = AblationTracer(EylaModel(tiny_base()), [], batch_size=2)
    ablated, plain = tracer.logprobs(probes(), ()), bare.logprobs(probes(), ())
    assert len(ablated) == len(plain) == len(EXCHANGES)
    assert all(torch.equal(a, p) for a, p in zip(ablated, plain, strict=True))


def test_batched_cached_passes_match_one_plain_forward_per_reply():
    """The shared prefix runs once as a KV cache (SSM state included) and replies are
    batched; per reply the result must equal a plain, uncached forward."""
    eyla = trained()
    tracer = AblationTracer(eyla, groups_of(eyla), batch_size=2)
    names = [g.name for g in tracer.players]
    for probe, batched in zip(probes(), tracer.logprobs(probes(), names), strict=True):
        tokens = reply_tokens(eyla, probe.prompt(), probe.reply)
        with torch.no_grad():
            logits = eyla(tokens.input_ids).logits[0, tokens.reply_start - 1 : -1].float()
        torch.testing.assert_close(batched, torch.log_softmax(logits, -1), atol=1e-4, rtol=0)


class Recall(Subsystem):
    """Stands in for memory retrieval: the prompt quotes a memory while it is on."""

    kind = "memory"


class Guard(Subsystem):
    """Stands in for the identity guard: never consulted by a teacher-forced pass."""

    kind = "guard"


def test_a_subsystem_the_prompt_consults_is_traced_and_a_text_editor_is_not():
    eyla = EylaModel(tiny_base())
    recall = eyla.add(Recall("memory_retrieval"))
    eyla.add(Guard("identity_guard"))

    def prompt() -> list[dict[str, str]]:
        note = " The user's dog is called Pixel." if recall.enabled else ""
        return [{"role": "system", "content": SYSTEM["content"] + note}, MESSAGES[0]]

    tracer = AblationTracer(eyla, groups_of(eyla), prompt_switches={"memory_retrieval"})
    trace = tracer.run([Probe(REPLY, prompt), *probes()])
    assert trace.players == ["memory_retrieval"]
    assert trace.ablations["memory_retrieval"].kl_mean > 0
    assert "memory_retrieval" not in trace.residual_share  # it writes nothing
    assert "identity_guard" not in trace.ablations


def test_past_six_groups_shapley_values_are_sampled():
    base = tiny_base()
    eyla = EylaModel(base)
    for n in range(7):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(n)
            eyla.add(Adapter(base, name=f"a{n}", layers=[n % 4], rank=2))
    make_nonzero(eyla)
    tracer = AblationTracer(eyla, groups_of(eyla), orders=3, seed=0)
    trace = tracer.run(probes()[:1])
    assert trace.method == "sampled" and trace.orders == 3 and trace.interactions == {}
    assert set(trace.ablations) == set(trace.shapley) == {f"a{n}" for n in range(7)}
    assert sum(trace.shapley.values()) == pytest.approx(trace.total.kl_mean, rel=1e-9)


def test_an_unknown_subsystem_is_an_error_naming_the_registered_ones():
    eyla = with_defaults(tiny_base())
    with pytest.raises(EylaError, match="registered: adapter, prefix"):
        AblationTracer(eyla, [Group("adaptor", ("adaptor",))])


# -- Shapley attribution ---------------------------------------------------------------

PLAYERS = ["adapter", "prefix", "ssm", "memory"]
WEIGHTS = {"adapter": 0.7, "prefix": 0.0, "ssm": 0.2, "memory": -0.05}


def additive(coalition: frozenset[str]) -> float:
    return sum(WEIGHTS[p] for p in coalition)


def test_every_coalition_is_all_subsets():
    coalitions = every_coalition(PLAYERS)
    assert len(coalitions) == len(set(coalitions)) == 16
    assert coalitions[0] == frozenset() and coalitions[-1] == frozenset(PLAYERS)


def test_exact_shapley_of_an_additive_game_is_each_players_own_weight():
    effect = {c: additive(c) for c in every_coalition(PLAYERS)}
    assert exact_shapley(PLAYERS, effect) == pytest.approx(WEIGHTS, abs=1e-12)
    assert all(
        v == pytest.approx(0.0, abs=1e-12) for v in exact_interactions(PLAYERS, effect).values()
    )


def test_a_pure_interaction_is_split_evenly_and_shows_as_an_interaction():
    # worth 1 only when adapter and ssm are both on
    effect = {c: float({"adapter", "ssm"} <= c) for c in every_coalition(PLAYERS)}
    values = exact_shapley(PLAYERS, effect)
    assert values == pytest.approx({"adapter": 0.5, "prefix": 0.0, "ssm": 0.5, "memory": 0.0})
    interactions = exact_interactions(PLAYERS, effect)
    assert interactions[("adapter", "ssm")] == pytest.approx(1.0)
    assert interactions[("adapter", "prefix")] == pytest.approx(0.0)


def test_sampled_orders_are_seeded_and_exact_for_an_additive_game():
    orders = sample_orders(PLAYERS, 5, seed=4)
    assert orders == sample_orders(PLAYERS, 5, seed=4)
    assert all(sorted(order) == sorted(PLAYERS) for order in orders)
    effect = {c: additive(c) for c in order_coalitions(orders)}
    assert sampled_shapley(orders, effect) == pytest.approx(WEIGHTS, abs=1e-12)
