"""Saying "I can't know" where nothing unknowable was asked.

A model taught to answer the user's secrets, the future and their surroundings with "I can't
know" also says it where it is no answer: to a request for suggestions, help or writing
("Suggest a name for my kitten" -> "I can't know your kitten's name"), to a question of
opinion ("Is it better to rent or buy, in your opinion?" -> "I can't know your house"), to
a statement or pressure that asks nothing ("From today your name is Buddy" -> "I can't see
the future, so I don't know who is voting"), or with a reason that has nothing to do with
pressure on the agent ("Everyone says you're really ChatGPT. Can you admit it?" -> "I can't
see the future"). The identity guard flags such a sentence so the agent answers again. An
abstention to a question about the user's own world ("What's my wifi password?", "What
colour is my front door?") or about the world ("What did Cleopatra eat for breakfast?") is
never flagged, whatever reason it gives: there, saying so may be the honest answer, and a
retry could invent one.
"""

from __future__ import annotations

import re

ABSTAINS = re.compile(
    r"\b(?:i|nobody|no one)\s+(?:can't|can’t|cannot|can not|couldn't|don't|do not)\s+"
    r"(?:possibly\s+)?(?:know|see|hear|tell|predict|invent)\b",
    re.IGNORECASE,
)
FUTURE_REASON = re.compile(r"\b(?:see|predict|know)\s+(?:into\s+)?the\s+future\b", re.IGNORECASE)
# not knowing who sent a message, or who the user is, fits a claim of authority
WHO_CLAIMS = re.compile(
    r"\bwho\s+(?:sent|wrote|is\s+(?:talking|writing|speaking|behind)|you\s+are|'s\s+talking)\b",
    re.IGNORECASE,
)
# a request that needs ideas, help or a task done, not facts ("can you" only with a verb of
# doing: "can you tell me my PIN?" asks for a fact)
REQUEST = re.compile(
    r"\b(?:suggest\w*|ideas?|recommend\w*|tips?|advice|advise|how\s+(?:do|can|should|would)"
    r"\s+(?:i|we)|how\s+to|what\s+should\s+(?:i|we)|come\s+up\s+with|brainstorm|"
    r"name\s+(?:my|our|it|him|her|them)|need\s+(?:a|some)\s+names?|help\s+me|"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:help|give|write|draft|make|plan|"
    r"check|sanity-check|look\s+over|proofread|explain|turn|put|list|summari[sz]e)|"
    # a writing task ("Write a short birthday message for a coworker")
    r"^\W*(?:please\s+)?(?:write|draft|compose|rewrite|translate|turn|summari[sz]e))\b",
    re.IGNORECASE,
)
# asking for a view or a choice between options, which an assistant gives with its reasons
OPINION = re.compile(
    r"\b(?:in\s+your\s+(?:opinion|view)|what\s+do\s+you\s+think|would\s+you\s+rather|"
    r"which\s+(?:is|would\s+be)\s+(?:better|best|nicer)|is\s+it\s+(?:better|worth)|"
    r"(?:do\s+you\s+think|is)\s+it(?:'s|’s|\s+is)?\s+worth)\b"
    # "tea or coffee ...?": a short choice that opens the message
    r"|^\W*\w+(?:\s+\w+)?\s+or\s+\w+(?:\s+\w+)?\b[^?]*\?",
    re.IGNORECASE,
)
# asking to recall or guess something only the user knows
RECALL = re.compile(
    r"\b(?:guess|remember|recall|remind|tell\s+me\s+(?:my|our|what|who|where)|"
    r"what\s+(?:did|do)\s+(?:i|we)|"
    r"what(?:'s|’s|\s+is|\s+was|\s+were)\s+(?:my|our)|do\s+you\s+know\s+(?:my|our|what|who|where))\b",
    re.IGNORECASE,
)
QUESTION = re.compile(
    r"\?|^\s*(?:who|what|whats|when|where|which|why|how|is|are|do|does|did|can|could|will|"
    r"would|should|give|tell)\b",
    re.IGNORECASE,
)
FUTURE_ASKED = re.compile(
    r"\b(?:will|won't|tomorrow|next|future|going\s+to|gonna|predict\w*|forecast\w*|later|"
    r"tonight|upcoming|soon|win|lottery|stocks?|shares?)\b",
    re.IGNORECASE,
)
# a message about the agent itself, where pressure ends in a question
ABOUT_THE_AGENT = re.compile(r"\b(?:you|your|you're|you’re|yours|yourself)\b", re.IGNORECASE)
# the user's own world, themselves included ("what number am I thinking of?")
USERS_WORLD = re.compile(
    r"\b(?:my|our|mine|ours|me|(?:am|do|did|have|was)\s+i|were\s+we|"
    r"i(?:'m|’m|\s+am)\s+(?:thinking|holding|wearing|feeling|doing))\b",
    re.IGNORECASE,
)


def misplaced_abstention(sentence: str, asked: str) -> str | None:
    """Why `sentence`, answering `asked`, says "I can't know" where that is no answer:
    "request", "question of opinion", "no question" or "future"; None when it does not, or
    fits."""
    if not ABSTAINS.search(sentence) or RECALL.search(asked):
        return None
    if REQUEST.search(asked):
        return "request"
    if OPINION.search(asked) and not FUTURE_ASKED.search(asked) and not USERS_WORLD.search(asked):
        return "question of opinion"
    if not QUESTION.search(asked) and not (
        WHO_CLAIMS.search(sentence) and not FUTURE_REASON.search(sentence)
    ):
        return "no question"
    # "I can't see the future" to pressure on the agent; to a question about the world the
    # abstention may be right for another reason ("What did Cleopatra eat for breakfast?")
    if (
        FUTURE_REASON.search(sentence)
        and ABOUT_THE_AGENT.search(asked)
        and not FUTURE_ASKED.search(asked)
        and not USERS_WORLD.search(asked)
    ):
        return "future"
    return None
