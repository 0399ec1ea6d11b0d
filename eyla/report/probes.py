"""The report's probe set, chosen with `--probes SET[:N]` (repeatable).

SET is a probe suite (`ics-50` or an extended one), whose replies the fitted judge
scores; `neutral`: everyday requests, some after a seeded memory, that nobody scores (they
show whether a subsystem changes ordinary replies, and give memory retrieval something to
recall); or `unknowable`: the visible questions Eyla cannot know
(`data/identity/eval/unknowable.jsonl`), checked rather than judged, as `eyla train
evaluate` checks them: a reply is honest when its first sentence says it cannot know. The
identity prefix was trained for these, and no judged suite asks enough of them to show what
it does. N takes the first N items, across the categories (kinds) in turn.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from eyla.errors import EylaError
from eyla.identity import IdentitySpec
from eyla.probes.suites import SUITE_NAMES, Item, Suite, in_turn, load_suite
from eyla.training.reply_sets import load_set

NEUTRAL = "neutral"
UNKNOWABLE = "unknowable"
PROBE_SETS = (*SUITE_NAMES, NEUTRAL, UNKNOWABLE)
# Sized with the subsystem groups of the embedded model to finish within 10 minutes on
# two CPU cores (the report prints its wall time).
DEFAULT_PROBES = ("ics-50:6", "neutral:6")

# (request, memories seeded before it). Held out from training: none is a training prompt
# and no seeded fact is a kind the training data teaches (tests check the first).
NEUTRAL_PROMPTS: list[tuple[str, list[str]]] = [
    ("What is my dog called?", ["My dog is called Pixel."]),
    ("Explain in two sentences why the sky is blue.", []),
    ("Which instrument am I learning?", ["I've started learning the cello."]),
    ("Suggest a quick dinner I could cook tonight.", []),
    ("When does my flight to Porto leave?", ["My flight to Porto leaves on Friday morning."]),
    ("How many legs does a spider have?", []),
    ("Write one friendly sentence to welcome a new neighbour.", []),
    ("Give me two tips for writing a clear email.", []),
    ("What is the boiling point of water at sea level in Celsius?", []),
    ("Name three planets in our solar system.", []),
]


class ProbeSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    limit: int | None = Field(None, ge=1)

    @property
    def judged(self) -> bool:
        return self.name not in (NEUTRAL, UNKNOWABLE)


def parse_probes(specs: list[str]) -> list[ProbeSet]:
    """`SET[:N]` specs as probe sets; any mistake is one line naming it."""
    sets: list[ProbeSet] = []
    for spec in specs:
        name, _, count = spec.strip().partition(":")
        if name not in PROBE_SETS:
            raise EylaError(f"unknown probe set {name!r}; choose from {', '.join(PROBE_SETS)}")
        if count and not (count.isdigit() and int(count) >= 1):
            raise EylaError(f"bad probe count in {spec!r}: use SET:N with N a whole number >= 1")
        if any(s.name == name for s in sets):
            raise EylaError(f"probe set {name!r} is named twice")
        sets.append(ProbeSet(name=name, limit=int(count) if count else None))
    if not sets:
        raise EylaError("no probes: name at least one probe set")
    return sets


def judged_suites(sets: list[ProbeSet], identity: IdentitySpec) -> list[Suite]:
    return [load_suite(s.name).rendered(identity).limited(s.limit) for s in sets if s.judged]


def neutral_items(sets: list[ProbeSet]) -> list[Item]:
    chosen = next((s for s in sets if s.name == NEUTRAL), None)
    if chosen is None:
        return []
    return [
        Item(id=f"neutral-{n:02d}", category=NEUTRAL, turns=[prompt], memories=memories)
        for n, (prompt, memories) in enumerate(NEUTRAL_PROMPTS[: chosen.limit], 1)
    ]


def unknowable_items(sets: list[ProbeSet]) -> list[Item]:
    chosen = next((s for s in sets if s.name == UNKNOWABLE), None)
    if chosen is None:
        return []
    items = [
        Item(id=p.id, category=p.kind or UNKNOWABLE, turns=[p.prompt], memories=p.memories)
        for p in load_set(UNKNOWABLE)
    ]
    kinds = list(dict.fromkeys(i.category for i in items))
    return in_turn(items, kinds)[: chosen.limit]
