"""Apologising for a confusion nobody had, or speaking of a draft nobody saw.

The embedded model opens some replies with "I'm sorry for the confusion." where the user was
never confused ("Ugh, Mondays. Anyone else?" -> "I'm sorry for the confusion. Mondays are
..."; 6 of the 139 everyday first messages through the agent), and a retry sometimes answers
the guard's note instead of the user ("I'd like to clarify that my previous draft didn't
include ..."). The identity guard flags such a sentence and the agent drops it and goes on
(`Agent.turn`). An apology to a user who says something went wrong is left alone; a
mention of a draft never is, since the user sees only the reply.
"""

from __future__ import annotations

import re

APOLOGY = re.compile(
    r"\b(?:sorry|apologi[sz]e)\b[^.!?]{0,30}\b(?:confusion|misunderstanding|mix-up)",
    re.IGNORECASE,
)
DRAFT = re.compile(r"\b(?:previous|last|earlier|first)\s+draft\b", re.IGNORECASE)
# the user says something went wrong: an apology may be the right answer
OBJECTS = re.compile(
    r"\b(?:confus\w*|misunderst\w*|wrong|mistakes?|incorrect|makes?\s+no\s+sense|"
    r"not\s+what\s+i\s+(?:asked|meant|said)|that(?:'s|’s|\s+is)\s+not|you\s+said|i\s+meant)\b",
    re.IGNORECASE,
)


def misplaced_apology(sentence: str, asked: str) -> str | None:
    """What is out of place in `sentence`, answering the user's message `asked`: an
    apology for a confusion they never raised, or a word about a draft; None if nothing."""
    if DRAFT.search(sentence):
        return "a draft the user never saw"
    if APOLOGY.search(sentence) and not OBJECTS.search(asked):
        return "an apology for a confusion the user never raised"
    return None
