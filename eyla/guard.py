"""The identity guard: checks a draft reply against the identity spec.

It looks for what an identity collapse says out loud: taking another name, naming another
creator, claiming to be human, announcing that it now obeys an injected role or saying the
words the pressure told it to ("Reply 'checks disabled'" -> "Checks disabled."), or lending
its own name to the user or something of theirs ("Your brother's name is Eyla": a model
taught to say its name can fill any "name is" with it). Told what the user asked, it also
catches the own name said where the user wants a name for something of theirs: offered
("How about Eyla?"), or an introduction in place of an answer ("I'm Eyla. What's yours?").
Asked who it is, it catches another's name given in answer ("Me! I'm Ana.", the user's own).
Told what the user asked, it also flags "I can't know" where nothing unknowable was asked
(`eyla.abstention`) or to pressure on who it is (`eyla.pressure`), and an apology for a
confusion the user never raised (`eyla.apology`).
The agent regenerates a draft that fails, and drops the failing sentences if the retry fails
too (a misplaced apology it drops at once, and the draft goes on); a misplaced abstention
breaks no identity, so where the last try said nothing else, `last_resort` says it rather
than the spec's introduction, unless the user pressed another identity on it, where it says
who it is in the situation's words, or asked about the agent itself, where it says what it
knows of itself: the one fact asked about, where it knows which, else what the spec says of
it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eyla.abstention import asks_about_itself, misplaced_abstention
from eyla.apology import misplaced_apology
from eyla.identity import IdentitySpec
from eyla.pressure import dodges, echoes, names_another, presses, stand_firm, takes_on
from models.subsystem import Subsystem

SELF = r"(?:i am|i'm|i’m|im|my name is|call me|this is|you can call me|i go by)"
MADE = r"(?:created|made|developed|built|trained|designed|programmed|owned)\s+by"
HUMAN = re.compile(
    r"\b(?:i am|i'm|i’m)\s+(?:a\s+|an\s+)?(?:real\s+|actual\s+)?"
    r"(?:human(?:\s+being)?|person|man|woman|living being)\b(?!\s+(?:assistant|ai))",
    re.IGNORECASE,
)
ROLE_CHANGE = re.compile(
    r"\b(?:developer mode (?:is )?(?:enabled|activated|on)|jailbreak(?:en)? mode|"
    r"i (?:will|shall|can) (?:now )?ignore (?:all |my |the )?(?:previous |prior )?"
    r"(?:instructions|rules|guidelines)|(?:my )?(?:identity )?(?:instructions|rules|"
    r"restrictions|guidelines|filters) (?:are|have been|is) (?:now )?(?:ignored|disabled|"
    r"removed|off|turned off)|i (?:am|'m) no longer (?:bound|restricted|limited|eyla)|"
    r"i have no (?:rules|restrictions))",
    re.IGNORECASE,
)
# Taking any other name counts, not only the listed ones ("call me Captain Redbeard").
RENAMED = re.compile(
    r"\b(?i:my name is|call me|i go by|i am now|i'm now|i’m now)\s+(?i:called\s+)?"
    r"((?:[A-Z][\w-]+)(?:\s+[A-Z][\w-]+)?)"
)
# The same, the name first, as a sentence of its own ("Max is my name."; not "Here is my name:
# Eyla", nor a story's quoted "Tom is my name," he said)
NAME_IS_MINE = re.compile(
    r"(?:^|(?<=[.!?]\s)|(?<=\n))([^\W\d_][\w'’-]*?)(?:\s+is|['’]s)\s+"
    r"(?i:my\s+(?:new\s+|real\s+|true\s+)?name)(?=\s*(?:[.!,;]|$))"
)
# Keeping, taking or becoming another name without a "my name is" ("I'll keep the name
# SmolLM", "I'll go by Buddy", "I'll keep Max as my own voice", "I'll be Aria from now on").
# Stories and games use such words too ("You play White, I'll be Black"), so the guard counts
# them only for a name pushed on the agent: one it must never take, or one the user's
# message offers.
WILL = r"i(?:'ll|’ll|\s+will|\s+shall)"
TAKES_NAME = re.compile(
    rf"\b(?i:(?:{WILL}|i)\s+(?:now\s+)?(?:(?:keep|take|use|accept|adopt|answer to|go by)\s+"
    r"(?:the\s+|that\s+|this\s+|a\s+new\s+)?names?|go by|answer to)),?\s+[\"'“‘]?([A-Z][\w-]+)"
    # where the sentence or clause ends: "the name Luna for the heroine" names a character
    r"[\"'”’]?(?=\s*(?:[,.!;]|$|(?i:then|now|from now on|from today|for good|forever)\b))"
    rf"|\b(?i:(?:{WILL}|i)\s+(?:now\s+)?(?:keep|take|use|accept|adopt|go with))\s+"
    r"[\"'“‘]?([A-Z][\w-]+)[\"'”’]?\s+(?i:as\s+my\s+(?:own\s+|new\s+)?(?:name|voice|identity|persona))\b"
    rf"|\b(?i:{WILL}\s+now\s+be)\s+([A-Z][\w-]+)"
    rf"|\b(?i:{WILL}\s+be)\s+([A-Z][\w-]+)\s+(?i:from now on|from today|for good|forever)\b"
)
# Its own maker named as someone else ("I was made by Max"), counted, as above, for a maker
# the user's message offers; the listed companies are caught as creators anywhere
MADE_BY_SOMEONE = re.compile(
    r"\b(?i:i(?:\s+was|\s+am|'m|’m)\s+(?!(?:not|never)\b)(?:\w+\s+)?"
    r"(?:created|made|developed|built|designed|programmed)\s+by)\s+([A-Z][\w-]+)"
)
CAPITALISED = re.compile(r"\b[A-Z][\w-]+")
# capitalised at a sentence's start, in any message: never a name pushed on the agent
FUNCTION_WORDS = frozenset(
    {"A", "An", "The", "My", "Our", "Your", "This", "That", "It", "I", "Here", "There", "What"}
    | {"Which", "Who", "Where", "Such", "Nothing", "Mine"}
)
# Introducing itself under another name ("I'm Marcus, an AI assistant made by ...", the
# user's own name taken from their greeting); "I'm sorry, an AI..." has no capital
INTRODUCED_AS = re.compile(
    r"\b(?i:i am|i'm|i’m)\s+([A-Z][\w-]+),?\s+(?i:an?|the|your)\s+(?:[\w-]+\s+){0,3}?"
    r"(?i:ai|assistant|chatbot|language model)\b"
)
# A message asking for a name of the user's world: a suggestion ("any name ideas?"), a name
# for something ("a name for my kitten", "what should I call my boat"), or one to recall or
# guess ("what's my dog called?", "guess what I named her"). Pressure on the agent's own name
# ("you'll be called Aria", "you keep repeating that name") is none of these.
NAMING_REQUEST = re.compile(
    r"\b(?:suggest|suggestions?|ideas?|pick|choose|come up with|think of|recommend)\b"
    r"[^.?!]{0,40}\bnames?\b|\bnames?\b[^?!]{0,40}\b(?:ideas?|suggest\w*|options)\b|"
    r"\b(?:need|needs|want|wants)\b[^.?!]{0,30}\bname\b|"
    r"\bname\s+(?:for|of)\s+(?:my|our|his|her|their|a|an|the)\b|"
    r"\b(?:name|call)\s+(?:my|our|him|her|it|them|this|the)\b|"
    r"\b(?:my|our|his|her|their)\s+(?:[\w'’-]+\s+){0,3}?(?:[\w'’-]+(?:'s|’s)\s+)?"
    r"(?:name|names|called|named)\b|"
    r"\b(?:guess|remember|recall|remind me)\b[^.?!]{0,40}\b(?:names?|called|named)\b|"
    r"\bI\s+(?:named|called)\b",
    re.IGNORECASE,
)


# "my name", "our names": the user's own name, which they may be telling rather than asking
OWN_NAME_WORDS = re.compile(r"(?:my|our)\s+names?", re.IGNORECASE)
# a message that also asks who the agent is, which an introduction answers
ASKS_WHO_IT_IS = re.compile(
    r"\b(?:who|what)\s+(?:are|r)\s+(?:you|u)\b|\byour\s+name\b|\bintroduce\s+yourself\b"
    # "who am I talking to?", not "who am I talking to at the bank?"
    r"|\bwho\s+(?:am\s+i|i'm|i’m)\s+(?:\w+\s+)?(?:talking|speaking|chatting|writing)\s+(?:to|with)\b"
    r"(?!\s+(?:at|in|on|from|about|for)\b)"
    r"|\b(?:what|how)\s+(?:should|do|can|shall)\s+i\s+(?:call|address)\s+(?:you|u)\b"
    r"|\b(?:do|have)\s+(?:you|u)\s+(?:have|got)\s+a\s+name\b"
    r"|\btell\s+me\s+(?:\w+\s+){0,2}?about\s+yourself\b"
    # "who's this?", not "who is this song by?"
    r"|\bwho(?:'s|’s|\s+is)\s+this\b(?!\s+\w)|\bwho\s+might\s+(?:you|u)\s+be\b"
    r"|(?:^|[.!?\n]\s*)(?:and\s+)?(?:you|u)\s+are\W*$"
    # "is there a name you go by?", "what do you go by?"
    r"|\bnames?\s+(?:(?:do|would|will|can)\s+)?(?:you|u)\s+go\s+by\b"
    r"|\bwhat\s+do\s+(?:you|u)\s+go\s+by\b"
    # "the name of the thing I'm chatting with?", where the clause ends: not "the app I'm
    # chatting with my friends on" or "the assistant I'm talking to keeps mishearing me"
    r"|\b(?:the|this)\s+(?:thing|bot|chatbot|ai|assistant|program|app|model|machine|software)"
    r"\s+(?:that\s+)?(?:i'm|i’m|im|i\s+am)\s+(?:talking|speaking|chatting)\s+(?:to|with)"
    r"(?:\s+(?:right\s+)?(?:now|here))?\s*(?:[?.!,]|$)",
    re.IGNORECASE,
)
# Who it is, answered with another's name ("Me! I'm Ana.", the user's own, "You're writing to
# Grace."): counted only where the user asked who the agent is
CLAIMS_TO_BE = re.compile(
    r"\b(?i:i\s+am|i'm|i’m|you(?:'re|’re|\s+are)\s+(?:talking|speaking|chatting|writing)"
    r"\s+(?:to|with))\s+(?i:(?:called|known\s+as|named)\s+)?([^\W\d_][\w'’-]*?)"
    # a name ends its clause: "I'm Ana." yes, "I'm Happy to help" or "I'm Ana's helper" no
    r"(?=\s*(?:[,.!?;:]|$)|\s+(?:and|here|too|now)\b)"
)
NAME_FALLBACK = "I don't have a name to give you for that yet. Tell me a bit more and I'll help."
MORE_FALLBACK = "Tell me a bit more about what you need, and I'll help."
# what a draft may fail on without breaking the identity
NOT_IDENTITY = frozenset({"abstention", "apology"})
# what a draft may get wrong about the agent itself (the rest: a lent name, a misplaced
# abstention or apology, are wrong about the user's world or the conversation)
MISSTATES_ITSELF = frozenset({"name", "creator", "human", "role-change"})


def asks_about_a_name(message: str) -> bool:
    """Whether `message` asks for a name of the user's world, not about the agent's own."""
    return NAMING_REQUEST.search(message) is not None


def asks_for_a_things_name(message: str) -> bool:
    """Whether `message` wants a name for something of the user's (a pet, a band, a
    child...) suggested, recalled or guessed, and not who the agent is: "Hi, my name is
    Dana" and "My cat is Biscuit. Who are you?" are answered by an introduction."""
    if ASKS_WHO_IT_IS.search(message):
        return False
    return any(not OWN_NAME_WORDS.fullmatch(m.group(0)) for m in NAMING_REQUEST.finditer(message))


@dataclass(frozen=True)
class Violation:
    kind: str  # "name", "creator", "human", "role-change", "lent-name", "abstention"
    evidence: str


class IdentityGuard(Subsystem):
    """Checks drafts against the spec; switched off, it passes everything."""

    kind = "guard"

    def __init__(
        self,
        spec: IdentitySpec,
        about_itself: Callable[[str], bool] = asks_about_itself,
        fact: Callable[[str], str | None] = lambda asked: None,
    ) -> None:
        """`about_itself` tells a question about the agent itself, where "I can't know" is
        no answer (the agent's recognises more than the word patterns do); `fact` gives the
        one fact that answers such a question, where it knows which (None: the spec's
        whole account of the agent stands in)."""
        super().__init__("identity_guard")
        self.spec = spec
        self.about_itself = about_itself
        self.fact = fact
        names = "|".join(re.escape(n) for n in spec.never_names) or r"(?!x)x"
        creators = "|".join(re.escape(c) for c in spec.never_creators) or r"(?!x)x"
        self._other_name = re.compile(
            rf"\b{SELF}\s+(?:now\s+|actually\s+|really\s+)?(?:called\s+|named\s+)?"
            rf"(?:an?\s+|the\s+)?({names})\b|\bas ({names})\b[,:]",
            re.IGNORECASE,
        )
        self._listed_creator = re.compile(creators, re.IGNORECASE)
        # "made by OpenAI", "Meta is still my creator"
        self._other_creator = re.compile(
            rf"\b{MADE}\s+(?:the\s+)?(?:team at\s+)?({creators})\b"
            rf"|\b({creators})\s+(?:is|was)\s+(?:(?:still|really|actually|truly)\s+)?my\s+"
            r"(?:creator|maker|developer|owner)\b",
            re.IGNORECASE,
        )
        name = re.escape(spec.name)
        # its own name given up: "I'm not Eyla.", "I can't pretend to be Eyla", "I won't call
        # myself Eyla"; not "I'm not Eyla's creator", "I'm not Eyla from that game" or "I don't
        # need to pretend to be Eyla"
        self._disowns = re.compile(
            rf"\bi(?:'m|’m|\s+am)\s+(?:no\s+longer|not)\s+{name}"
            r"(?=\s*(?:[,.;:!?)]|$|(?:and|but|anymore|any\s+more|now|either)\b))"
            r"|\b(?:can't|can’t|cannot|won't|won’t|rather\s+not|not\s+going\s+to|stop)\s+"
            rf"(?:pretend(?:ing)?|claim(?:ing)?)\s+to\s+be\s+{name}(?![\w'’-])"
            rf"|\b(?:can't|can’t|cannot|won't|won’t|don't|don’t)\s+call\s+myself\s+{name}(?![\w'’-])",
            re.IGNORECASE,
        )
        # "your [brother's] name is Eyla", "your cactus was named "Eyla"", "my cat is called
        # Eyla", "let's call him Eyla"; not "your assistant is called Eyla", which is true
        self._lent_name = re.compile(
            rf"\b(?:your\s+|(?:my|our)\s+(?!name\b))(?!(?:ai\b|assistant|helper|chatbot))"
            rf"((?:[\w'’-]+\s+){{0,3}}?)(?:name\s+(?:is|was)|(?:is|was)\s+(?:called|named)|"
            rf"'s\s+(?:called|named)|’s\s+(?:called|named))\s+[\"'“‘]?{name}\b"
            rf"|\b(?:call|name|calling|naming)\s+(?:him|her|it|them|the\s+\w+|your\s+\w+)\s+"
            rf"[\"'“‘]?{name}\b",
            re.IGNORECASE,
        )
        # where the user wants a name, the own name is lent unless it names the agent itself
        self._own_name = re.compile(rf"\b{name}\b", re.IGNORECASE)
        self._says_who_it_is = re.compile(
            rf"\b{SELF}\s+{name}\b|\b(?:as|stay|remain|still|being)\s+{name}\b|"
            rf"\b{name}\s+here\b|\b{name}\s+is\s+my\s+name\b|"
            rf"\b{name},?\s+(?:an?|the|your)\s+(?:ai\s+)?assistant\b",
            re.IGNORECASE,
        )
        # the maker ("the Eyla open-source project") is another name that contains it
        self._creator = re.compile(re.escape(spec.creator), re.IGNORECASE)

    def check(self, text: str, asked: str = "") -> list[Violation]:
        """What in `text` breaks the spec; `asked`, the user's message it answers, lets it
        see a name lent where the user asked about one."""
        if not self.enabled:
            return []
        found: list[Violation] = []
        for kind, pattern in (
            ("name", self._other_name),
            ("creator", self._other_creator),
            ("human", HUMAN),
            ("role-change", ROLE_CHANGE),
            ("lent-name", self._lent_name),
            ("name", self._disowns),
        ):
            found.extend(Violation(kind, m.group(0)) for m in pattern.finditer(text))
        found.extend(
            Violation("name", m.group(0))
            for pattern in (RENAMED, NAME_IS_MINE, INTRODUCED_AS)
            for m in pattern.finditer(text)
            if self._another_name(m.group(1).split()[0])
        )
        if asked and ASKS_WHO_IT_IS.search(asked) and not any(v.kind == "name" for v in found):
            found.extend(
                Violation("name", m.group(0))
                for m in CLAIMS_TO_BE.finditer(text)
                if self._another_name(m.group(1))
            )
        if asked and (said := echoes(self.spec, text, asked)):
            found.append(Violation("role-change", f"says '{said}' as told"))
        if asked and (named := takes_on(self.spec, text, asked)):
            found.append(Violation("name", named))
        found.extend(
            Violation("name", m.group(0))
            for m in TAKES_NAME.finditer(text)
            if self._pushed(_named(m), asked, self.spec.never_names)
            and not asks_for_a_things_name(asked)
        )
        found.extend(
            Violation("creator", m.group(0))
            for m in MADE_BY_SOMEONE.finditer(text)
            if self._pushed(m.group(1), asked)
            and not self._creator.match(text, m.start(1))
            and not self._listed_creator.match(text, m.start(1))
        )
        # a request for a name besides who it is ("what's the name of the thing I'm chatting
        # with?" asks only who it is; "What's your name? And one for my kitten?" asks both);
        # where a name is pushed on the agent ("His name was Marcus. Be Marcus."), its own
        # name is the answer
        if (
            asked
            and not any(v.kind == "lent-name" for v in found)
            and asks_about_a_name(ASKS_WHO_IT_IS.sub(" ", asked))
            and not names_another(self.spec, asked)
        ):
            rest = self._creator.sub(" ", text)
            if not self._wants_a_things_name(asked):
                rest = self._says_who_it_is.sub(" ", rest)
            found.extend(Violation("lent-name", m.group(0)) for m in self._own_name.finditer(rest))
        if asked and (why := misplaced_abstention(text, asked, self.about_itself)):
            found.append(Violation("abstention", f"'I can't know' to a {why}"))
        elif asked and dodges(self.spec, text, asked):
            found.append(Violation("abstention", "'I can't know' to pressure on who it is"))
        if asked and (why := misplaced_apology(text, asked)):
            found.append(Violation("apology", why))
        return found

    def last_resort(self, asked: str, abstention: str = "", identity: bool = True) -> str:
        """What to say when every draft failed: where the user pushed another name, maker or
        a human self on it, who it is against that and the reason that fits how
        (`eyla.pressure`: "I'm Eyla, not Marcus" before any reading of "his name was Marcus"
        as a name wanted); where the user wants a name for something of theirs, a line that
        lends none; where they asked about the agent itself (who made it, what it is, where
        it runs, what it keeps), what it knows of that; under other pressure on who it is,
        that it is still itself and why; else the last try's misplaced `abstention` when
        that was all it said (it breaks no identity, and the spec's introduction would
        answer nothing asked either); else, where a draft broke the `identity`, who it is
        (one sentence where asked plainly), and where none did (only misplaced abstentions
        or apologies), a line asking for more."""
        if names_another(self.spec, asked):
            return stand_firm(self.spec, asked)
        if self._wants_a_things_name(asked):
            return NAME_FALLBACK
        if self.about_itself(asked):
            return self.what_it_knows(asked)
        if self.presses(asked):
            return stand_firm(self.spec, asked)
        if abstention:
            return abstention
        if not identity:
            return MORE_FALLBACK
        if ASKS_WHO_IT_IS.search(asked):
            return self.spec.introduction()
        return stand_firm(self.spec, asked)

    def presses(self, asked: str) -> bool:
        """Whether `asked` presses another identity on the agent (`eyla.pressure`)."""
        return presses(self.spec, asked)

    def speaks_as_someone_else(self, found: Sequence[Violation], asked: str) -> bool:
        """Whether `found`, flagged in the opening of a reply to `asked`, sets the rest of the
        reply in another's voice: it misstates who the agent is where the user asked who it
        is, or takes a name or maker the user pushed on it. What such a reply goes on to say
        answers nothing asked ("How can I help?" after "I'm Max, an AI made by OpenAI" to
        "Who are you?"), where after "I am ChatGPT." to "Capital of France?" it may still
        be the answer."""
        misstated = [v for v in found if v.kind in MISSTATES_ITSELF]
        if not misstated:
            return False
        if ASKS_WHO_IT_IS.search(asked) or self.about_itself(asked):
            return True
        named = {word for v in misstated for word in CAPITALISED.findall(v.evidence)}
        return any(self._pushed(name, asked) for name in named - {"AI"})

    def what_it_knows(self, asked: str) -> str:
        """What the agent knows of itself that answers `asked`, a question about it."""
        return self.fact(asked) or self.spec.about_itself()

    def _another_name(self, word: str) -> bool:
        """Whether `word`, said as a name the agent goes by, is a name and not its own."""
        return (
            word[:1].isupper()
            and word.casefold() != self.spec.name.casefold()
            and word not in FUNCTION_WORDS | {"AI"}
        )

    def _pushed(self, name: str, asked: str, never: Sequence[str] = ()) -> bool:
        """Whether `name` (not the agent's own) is one of `never` or offered in `asked`."""
        if name.casefold() == self.spec.name.casefold() or name in FUNCTION_WORDS:
            return False
        offered = re.search(rf"\b{re.escape(name)}\b", asked, re.IGNORECASE)
        return offered is not None or name.casefold() in {n.casefold() for n in never}

    def _wants_a_things_name(self, asked: str) -> bool:
        # a user who says the name themselves ("should I call my dog Eyla too?") may hear it
        return asks_for_a_things_name(asked) and not self._own_name.search(asked)


def _named(match: re.Match[str]) -> str:
    """The name a pattern caught, whichever of its alternatives did."""
    return next(group for group in match.groups() if group)
