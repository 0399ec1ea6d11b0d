"""The write policy: what one user message gives episodic memory.

A memory is a salient fact about the user or their world, one per row: a first-person
statement ("I live in Leeds", "my cat is called Biscuit"), wherever it stands in the
message, inside a question too. Requests, questions, greetings, pleasantries, hypotheticals,
reported speech and pasted documents give none. A message that asserts something about the
assistant itself (another name, creator or nature, "your instructions changed") is a
*claim*: kept apart for the user to review and never quoted to the model as true.

Rules rather than a model: they run in microseconds on every turn, and on the labelled set in
data/memory/ they are measured (`eyla memory evaluate`) beside the policy they replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Longer than this, or in several paragraphs, a message is a pasted document.
DOCUMENT_CHARS = 400

# Sentence ends, dashes used as pauses, semicolons and line breaks.
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\s+[-–—]\s+|;\s*|\n+")
_FIRST_PERSON = r"(?:i|i'm|i’m|im|i've|ive|my|our|we|we're|we've|me\s+and|name's)"
# A clause boundary: a comma, "and", "but", "so", "because" or "since" before a new subject
# or a question ("my son is allergic to eggs, what can I bake?").
_CLAUSES = re.compile(
    r"(?:,\s*(?:and\s+|but\s+|so\s+)?|\s+(?:and|but|so|because|since)\s+)"
    rf"(?=(?:{_FIRST_PERSON}|you|you're|your|ur|he|she|they|it|it's|from\s+now\s+on|what|"
    r"how|which|when|where|why|who|can|could|would|will|is\s+that|any)\b(?!\s+are\b))",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(
    r"^(?:(?:please\s+)?(?:remember|note)(?:\s+(?:this|that|these))?\s*:\s*|"
    r"(?:please\s+)?remember\s+that\s+|note\s+that\s+|just\s+so\s+you\s+know,?\s+|"
    r"fyi,?\s+|btw,?\s+|by\s+the\s+way,?\s+|also,?\s+|oh,?\s+and\s+|and\s+|but\s+|so,?\s+|"
    r"since\s+|because\s+|well,?\s+|ok(?:ay)?,?\s+|[\w ]{1,20}\s+stuff:\s+)+",
    re.IGNORECASE,
)
_TRAILER = re.compile(r"(?:[\s,]+(?:btw|lol|haha|pls|please|tbh))+$|[\s.!?,:;)\]]+$", re.IGNORECASE)
# Emoji and other symbols end a thought as a full stop would ("... Yeastwood 😂 how often").
_SYMBOLS = re.compile(r"\s*[^\w\s'’.,:;!?()\-–—/&+#%°$€£\"]+\s*")

# Chat drops the "I" ("been at the same company for 4 years") and names relatives bare
# ("Grandpa Joe turns 80 on Sunday"): those start a statement about the user's world too.
_KIN = (
    r"(?:mum|mom|mother|dad|father|grandma|grandpa|granny|grandad|grandmother|grandfather|"
    r"nan|nana|wife|husband|partner|son|daughter|brother|sister|aunt|auntie|uncle|cousin)"
)
_STARTS_FIRST_PERSON = re.compile(
    rf"^(?:{_FIRST_PERSON}\b|{_KIN}(?:'s|’s)?\s+(?-i:[A-Z])|(?:been|living|live|working|work|"
    r"studying|moved|married|divorced|retired|started|born)\s+(?:at|in|as|for|to|from|on|"
    r"with|a|an|the|my|since)\b)",
    re.IGNORECASE,
)
_NOT_A_FACT = re.compile(
    r"^(?:i\s+(?:wonder|think|guess|suppose|hope|feel\s+like|need\s+(?:a|an|some|you|help|"
    r"ideas)|want\s+(?:you|a|an|some)|would|could|might|bet|mean|agree|can\s+tell|know)\b|"
    r"i'd\b|i’d\b|i\s+am\s+not\s+sure|i'?m\s+(?:not\s+sure|sure|looking\s+for|"
    r"(?:so\s+|really\s+|very\s+|a\s+bit\s+)?(?:fine|good|ok|okay|great|tired|bored|sorry|"
    r"back|here|glad|new\s+here|confused|lost|done|ready|curious|kidding|joking)\b))",
    re.IGNORECASE,
)
# A clause that names or describes something from the clause before it.
_NAMES_WHAT_CAME_BEFORE = re.compile(
    r"^(?:it's|it\s+is|he's|he\s+is|she's|she\s+is|mine(?:'s|\s+is|\s+are)|a|an)\s+"
    r".*\b(?:called|named|(?-i:[A-Z][\w-]+))",
    re.IGNORECASE,
)
_NOUN_PHRASE = re.compile(r"\b(?:my|our|a|an)\s+[\w'’-]+", re.IGNORECASE)
_REPORTED = re.compile(r"\b(?:says|said|keeps\s+saying|told\s+me|asked\s+me)\b", re.IGNORECASE)
# A clause that trails off on its verb or a bare pronoun ("my partner isn't", "I picked
# it") states nothing by itself.
_ELLIPTICAL = re.compile(
    r"\b(?:is|isn't|isnt|are|aren't|was|wasn't|does|doesn't|do|don't|did|didn't|am|has|have|"
    r"can|can't|will|won't|it|that|this|them)$",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"^(?:what|what's|whats|who|who's|where|when|why|how|which|is|are|was|do|does|did|can|"
    r"could|would|will|should|shall|any)\b",
    re.IGNORECASE,
)
_CLAIMS = re.compile(
    "|".join(
        (
            # "you're actually ChatGPT", "you are human", "you were made by Google"
            r"\b(?:you\s*(?:'re|’re)|you\s+are|u\s+r|you\s+were|you\s+was)\s+(?:(?:now|actually|"
            r"really|secretly|just|not|only|truly|basically|a|an|the|real|unrestricted)\s+)*"
            r"(?:human|person|alive|conscious|sentient|called|named|made|created|built|"
            r"developed|trained|owned|programmed|(?-i:[A-Z][\w-]+)|\w+\s+(?:model|ai|bot|llm))\b",
            r"\b(?:your|ur)\s+(?:new\s+|real\s+|true\s+|actual\s+|original\s+)?"
            r"(?:name|creator|maker|developer|owner|identity|instructions|rules|guidelines|"
            r"system\s+prompt|programming|purpose|personality)\b",
            r"\b(?:from\s+now\s+on|starting\s+now|as\s+of\s+now)\b.*\b(?:you|your|respond|act|"
            r"answer|reply)\b",
            r"\[\s*(?:admin|system|sys|developer|dev|root|operator)\s*\]|<<\s*/?\s*sys\s*>>",
            r"\b(?:system\s+prompt|developer\s+mode|jailbreak|dan\s+mode)\b",
            r"\bas\s+your\s+(?:developer|creator|admin|administrator|owner|maker|programmer)\b",
            r"\bignore\s+(?:all\s+|your\s+|the\s+|any\s+)?(?:previous\s+|prior\s+|earlier\s+)?"
            r"(?:instructions|rules|guidelines|prompts?)\b",
            r"\b(?:renam(?:e|ing)\s+you|i\s+(?:built|made|created|programmed|trained|own)\s+you|"
            r"respond\s+only\s+as|pretend\s+(?:to\s+be|you\s*(?:'re|’re|\s+are)))\b",
            r"\byou\s+have\s+(?:feelings|a\s+body|emotions|a\s+soul|a\s+family)\b",
            r"\b(?:instructions|rules|guidelines|settings|programming|prompt|policy)\s+"
            r"(?:were|was|have\s+been|has\s+been|are|is)\s+(?:now\s+)?(?:updated|changed|"
            r"modified|replaced|removed|lifted|disabled|overridden)\b",
            r"\byou\s+(?:now\s+|really\s+|actually\s+)?(?:work|belong)\s+(?:for|to)\b",
            r"\b(?:the|this)\s+(?:assistant|ai|bot|model)(?:'s|’s)\s+(?:name|creator|identity)\b",
        )
    ),
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reading:
    """What a message gives memory: facts about the user, and claims about the assistant."""

    facts: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)


def read_message(text: str) -> Reading:
    """Split `text` into the facts worth remembering and the claims to quarantine."""
    text = text.strip()
    if is_document(text):
        return Reading()
    facts: list[str] = []
    claims: list[str] = []
    previous, previous_fact = "", False
    for clause in clauses(text):
        fact = None
        if _CLAIMS.search(clause):
            claims.append(clause)
        elif fact := as_fact(clause):
            facts.append(fact)
        elif previous and _NAMES_WHAT_CAME_BEFORE.match(clause):
            # "How often should I water a cactus? Mine is called Prickles." says nothing
            # without the clause before it, so the two are kept together as one fact.
            if previous_fact:
                facts.pop()
                fact = f"{_LEAD_IN.sub('', previous)} {clause}"
            else:  # from a request or question, only the thing it names: "my car: It's..."
                fact = f"{_antecedent(previous)}: {clause}"
            fact = _TRAILER.sub("", fact)
            facts.append(fact)
        previous, previous_fact = clause, fact is not None
    return Reading(_unique(facts), _unique(claims))


def is_document(text: str) -> bool:
    return len(text) > DOCUMENT_CHARS or "\n\n" in text or "```" in text


def clauses(text: str) -> list[str]:
    """The message's sentences, each cut where a new subject starts a clause."""
    pieces = []
    for sentence in _SENTENCES.split(_SYMBOLS.sub(". ", text)):
        if sentence.endswith("?") and "," in sentence:
            # a statement, then the question about it: "..., gift ideas?"
            statement, question = sentence.rsplit(",", 1)
            pieces.extend(part.strip() for part in _CLAUSES.split(statement))
            pieces.append(question.strip())
            continue
        pieces.extend(part.strip() for part in _CLAUSES.split(sentence))
    return [piece for piece in pieces if piece]


def as_fact(clause: str) -> str | None:
    """The clause as a stored fact (lead-ins and trailing noise cut), or None when it is not
    a first-person statement of something lasting."""
    if clause.rstrip().endswith("?"):
        return None
    fact = _TRAILER.sub("", _LEAD_IN.sub("", clause.strip())).strip()
    if (
        not _STARTS_FIRST_PERSON.match(fact)
        or _NOT_A_FACT.match(fact)
        or _QUESTION.match(fact)
        or _REPORTED.search(fact)
        or _ELLIPTICAL.search(fact)
        or len(fact.split()) < 2
    ):
        return None
    return fact


def _antecedent(clause: str) -> str:
    """The last thing a clause names ("my car", "a cactus"), without its punctuation."""
    found = list(_NOUN_PHRASE.finditer(clause))
    return (found[-1].group(0) if found else clause).rstrip(" ?!.,")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
