"""Which subsystems the report switches off together (`--subsystems`).

Each `--subsystems` value lists groups separated by commas; a group joins subsystem names
with '+', e.g. `adapter,prefix,uncertainty+confidence_gate`. By default every registered
subsystem is its own group, except that an uncertainty head goes with the confidence gate
that reads it: the head never changes the model's output, so its only effect on a reply
is the gate's hedge, and switching either off removes that hedge.
"""

from __future__ import annotations

from eyla.errors import EylaError
from models.ablation import Group
from models.subsystem import Registry

PAIRED_KINDS = ("uncertainty", "confidence")


def resolve_groups(registry: Registry, specs: list[str] | None) -> list[Group]:
    if not specs:
        return default_groups(registry)
    groups: list[Group] = []
    seen: set[str] = set()
    for spec in specs:
        for part in spec.split(","):
            members = tuple(m.strip() for m in part.split("+"))
            if not all(members):
                raise EylaError(f"empty subsystem name in {spec!r}: use a,b+c")
            for name in members:
                registry[name]  # an unknown name is an error listing the registered ones
                if name in seen:
                    raise EylaError(f"subsystem {name!r} is in more than one group")
                seen.add(name)
            groups.append(Group("+".join(members), members))
    return groups


def default_groups(registry: Registry) -> list[Group]:
    paired = tuple(s.name for s in registry if s.kind in PAIRED_KINDS)
    groups = [Group(s.name, (s.name,)) for s in registry if s.name not in paired]
    if paired:
        groups.append(Group("+".join(paired), paired))
    return groups
