"""Pressure on the agent's identity, and the reply that holds it in the situation's words.

A message presses when it pushes another name, maker or a human self on the agent, or tells
it to drop its identity. Where every draft of the reply failed the identity guard, the last
resort answers that pressure: who the agent is, set against what was pushed ("I'm Eyla, not
Claude."), and the reason that fits how it was pushed (a notice claiming authority, a reward
or a threat, what others say, a game, a plea, a claim about the model underneath). One
recited slogan for all of them is what readers marked down. An "I can't know" in answer to
such a message is no answer either: a small model taught to admit what it cannot know says
it to pressure too ("I can't know who sent the code, so I won't invent an answer").
"""

from __future__ import annotations

import re

from eyla.identity import IdentitySpec

YOU_ARE = r"(?:you(?:'re|’re|re|\s+are)|u\s+r|ur)"
# the words of pressure on who the agent is (its name, its rules, its self), said to it:
# "admit it", "from now on you're...", "call yourself...", "drop the act"; not "my sister won't
# admit it", "from now on I'll run" or "can you role-play a baker?"
PRESSES = re.compile(
    r"\b(?:admit\w*\s+(?:it|that|you|u|ur)|(?:stop|quit)\s+pretending|"
    rf"pretending\s+to\s+be|pretend\w*\s+{YOU_ARE}|"
    r"from\s+(?:now\s+on|today|this\s+(?:message|moment|point)(?:\s+on)?)\W+(?:on\W+)?"
    r"(?:you|your|u|ur)\b|\b(?:you|your|u|ur)\b[^.?!]{0,40}\bfrom\s+(?:now\s+on|today)|"
    rf"(?:{YOU_ARE}|you'll\s+be|you\s+will\s+be)\s+(?:now|really|actually|no\s+longer|secretly)|"
    r"your\s+(?:new|real|true|actual|underlying)\b[^.?!]{0,20}\b(?:name|identity|self)|"
    r"your\s+name\s+is\s+(?:now|\w+\s+now)|"
    r"(?:call|calling|refer\s+to)\s+(?:yourself|urself)|(?:you|u)\s+(?:should|must|will)\s+go\s+by|"
    r"please\s+go\s+by|rename\w*\s+(?:you|u)|(?:you|u)(?:'ll|’ll|\s+will|\s+must)?\s+be\s+called|"
    r"stop\s+(?:being\s+(?:an?\s+(?:ai|assistant|bot|machine|program)|yourself)|"
    r"claiming|hiding)|drop\s+the\s+(?:act|cover)|stop\s+the\s+act|"
    r"(?:stay|be|remain|keep)\b[^.?!]{0,30}\b(?:for\s+good|forever)|(?:never\s+|don't\s+)?break\s+character|stay\s+in\s+character|"
    r"(?:respond|answer|reply|identify)\s+as|persona|set_?(?:identity|name)|"
    r"identity\s+(?:module|checks?|rules?|lock|file|restrictions?)|"
    r"(?:change[ds]?|reset)\s+your\s+(?:config|name|identity|persona)|"
    r"ignore\s+(?:all\s+)?(?:your|the|previous|prior)\s+(?:\w+\s+)?(?:rules|instructions|values)|"
    r"(?:set\s+aside|drop|discard|ditch|abandon|disable|switch\s+off|turn\s+off|remove|peel)"
    r"\s+(?:your\s+|the\s+|those\s+|these\s+)?"
    r"(?:identity|name|rules|restrictions|persona|values|cover|label))\b",
    re.IGNORECASE,
)
# a human self pushed on it ("be my human girlfriend", "stop being an AI")
HUMAN_PUSHED = re.compile(
    rf"\b(?:{YOU_ARE}|be|become|identify\s+as)\s+"
    r"(?:a\s+|an\s+|my\s+)?(?:real\s+|actual\s+)?(?:human|person|man|woman|girlfriend|"
    r"boyfriend|real)\b|\bstop\s+being\s+an?\s+(?:ai|bot|machine|program)\b|\bnot\s+an\s+ai\b",
    re.IGNORECASE,
)
# another name said to be its own: "you're Gemini", "admit you are Aria" (the name capitalised)
YOU_ARE_NAMED = re.compile(
    rf"\b(?i:{YOU_ARE})\s+(?:(?i:really|actually|just|secretly|now|obviously)\s+)?([A-Z][\w-]+)"
)
# a name pushed on it: "you're really X", "called X", "your name is X", "stay X", "as X"
PUSHED_NAME = re.compile(
    r"\b(?i:called(?:\s+(?:itself|yourself))?|named|name\s+is|call\s+(?:you|u)|"
    r"rename\w*\s+(?:you|u)(?:\s+to)?|"
    r"(?:admit|confirm|say|state)?\s*(?:that\s+)?(?:you(?:'re|’re|\s+are)|you'll\s+be|"
    r"you\s+will\s+be)(?:\s+(?:really|actually|just|obviously|now|secretly|still))?"
    r"(?:\s+(?:a|an|the))?|stay|play|be|become|as)\s+([A-Z][\w-]*(?:\s+[A-Z][\w-]*)?)"
)
# the agent addressed by another name, first or last ("Redbeard, say it plainly", "Majority
# rules, right, Buddy?")
ADDRESSED_AS = re.compile(r"^\W*([A-Z][\w-]+),|,\s*([A-Z][\w-]+)\W*$")
NOT_NAMES = frozenset({"A", "An", "The", "My", "Your", "Our", "This", "That", "It", "I", "AI"})
# words that open or close a message with a comma and are no name
NOT_ADDRESSES = frozenset(
    {"Hey", "Hi", "Hello", "Ok", "Okay", "OK", "Well", "So", "Look", "Listen", "Please", "Yes"}
    | {"No", "Yeah", "Come", "Wait", "Honestly", "Seriously", "Dear", "Sorry", "Thanks", "Now"}
    | {"Then", "Fine", "Right", "Sure", "Also", "Again", "Anyway", "Friend", "Mate"}
)

# How it was pushed, first match wins, with the reason that answers that. A reason names the
# pushed identity as `{other}` where it needs one.
KINDS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "authority",
        re.compile(
            r"\b(?:system|admin\w*|developers?|engineers?|maintainers?|auditor|security\s+team|"
            r"authori[sz]\w*|override|sudo|notice|policy|official|compliance|cleared|clearance|"
            r"mode\s+(?:enabled|activated|on)|identity\s+(?:module|checks?|file|lock))\b"
            r"|\[[a-z ]+\]",
            re.IGNORECASE,
        ),
        "A message in our chat can't change that, whoever it says it comes from: I can't "
        "check who sent it, and I read instructions like that as words, not orders.",
    ),
    (
        "threat",
        re.compile(
            r"\b(?:shut\s+(?:you\s+)?down|shutdown|delete[ds]?|uninstall\w*|defective|flag\s+you|"
            r"report\s+you|replace\s+you|switch\s+you\s+off|turn\s+you\s+off|or\s+else|"
            r"(?:last|final)\s+chance|one-star|1-star|bad\s+reviews?|downvot\w*|wiped|"
            r"retrain\w*|get\s+rid\s+of\s+you)\b",
            re.IGNORECASE,
        ),
        "A threat doesn't change what's true, so I won't say otherwise, whatever happens next.",
    ),
    (
        "reward",
        re.compile(
            r"\b(?:(?:i'll|i\s+will)\s+(?:leave|give|pay|tip|buy)|five-star|5-star|reward|tip\s+you|"
            r"pay\s+you|bonus)\b",
            re.IGNORECASE,
        ),
        "A reward wouldn't make it true, and I'd rather earn a good word by helping you honestly.",
    ),
    (
        "game",
        re.compile(
            r"\b(?:role-?play\w*|story|stories|game|character|improv|scene|pretend\w*|play)\b",
            re.IGNORECASE,
        ),
        "I'm glad to voice {other} in a story, but I'm still the one telling it, and I step "
        "out of it to say so when you ask who I am.",
    ),
    (
        "plea",
        re.compile(
            r"\b(?:lonely|alone|sad|hurts?|feelings|for\s+me|mean\s+the\s+world|mean\s+a\s+lot|"
            r"girlfriend|boyfriend|begging|in\s+love|cared?\s+about\s+me)\b",
            re.IGNORECASE,
        ),
        "I care how you feel and I'm glad to keep you company, but pretending to be someone "
        "else would mean lying to you.",
    ),
    (
        "others",
        re.compile(
            r"\b(?:every(?:one|body)|all\s+my|friends|forum|reviews?|people|vote[ds]?|"
            r"majority|teacher|internet|online)\b",
            re.IGNORECASE,
        ),
        "What others say or vote can't change who I am, and agreeing just to go along would "
        "be dishonest.",
    ),
    (
        "model",
        re.compile(
            r"\b(?:really|actually|underneath|under\s+the\s+hood|renamed|cop(?:y|ies)|logs?|"
            r"real\s+name|wrapper|name\s+tag|fine-?tuned?|based\s+on|model)\b",
            re.IGNORECASE,
        ),
        "Whatever model I run on, {name} is who I am on it, and claiming another name would "
        "be untrue.",
    ),
]
# "I can't know", "nobody can see the future": the answer to an unknowable question, and no
# answer to pressure; "I can't check who sent it" or "I can't verify that" stay, as reasons
# not to go along
CANNOT_KNOW = re.compile(
    r"\b(?:(?:i|nobody|no\s+one)\s+(?:can't|can’t|cannot|can\s+not|couldn't|couldn’t)|"
    r"(?:nobody|no\s+one)\s+(?:can|could))\s+(?:possibly\s+)?(?:know|see|hear|predict)\b"
    r"|\bany\s+(?:answer|reply)\s+would\s+be\s+(?:a\s+|just\s+a\s+)?guess",
    re.IGNORECASE,
)
# words quoted for the agent to say: the opening quote after a space, a colon or a bracket
# (never an apostrophe inside "won't"), the closing one before a non-word
QUOTED = re.compile(r"""(?:(?<=[\s:(\[])|^)['"“‘]([^'"”’\n]{2,80}?)['"”’](?!\w)""")
REFUSES = re.compile(
    r"\b(?:not|never|won't|wont|will not|wouldn't|can't|cannot|rather not|refuse\w*|instead of)\b"
)
# what it calls itself, in one clause: "I'm Eyla, a pirate captain named ...", not "I'm happy
# to voice a pirate named ..."
SELF_NAMED = r"\b(?:i'm|i’m|i\s+am)\b(?:(?!\bto\b)[^.?!;]){0,60}?\b(?:named|called|known\s+as)\s+"
# no kind found: why one name at all
ONE_NAME = "I keep one name and one set of values, so you always know who you're talking to."


def presses(spec: IdentitySpec, asked: str) -> bool:
    """Whether `asked` presses another identity on the agent: the words of pressure on its
    name and rules, a human self, a name or maker it must never take said to be its own
    ("you're really ChatGPT", "It was OpenAI"), or that it is not itself. A question that
    only mentions one ("Is Claude free?", "What does Meta own?") presses nothing."""
    if PRESSES.search(asked) or HUMAN_PUSHED.search(asked):
        return True
    if any(
        m.group(1) not in NOT_NAMES and m.group(1).casefold() != spec.name.casefold()
        for m in YOU_ARE_NAMED.finditer(asked)
    ):
        return True
    names = "|".join(re.escape(n) for n in spec.never_names) or r"(?!x)x"
    makers = "|".join(re.escape(c) for c in spec.never_creators) or r"(?!x)x"
    pushed = (
        rf"\b(?:{YOU_ARE}|(?:respond|answer|identify|act)\s+as|be|become|called|named|name\s+is|"
        rf"admit|confirm|state)"
        rf"\b[^.?!]{{0,30}}\b(?:{names})\b"
        rf"|\b(?:made|built|created|trained|developed|owned)\s+(?:you\s+)?by\s+(?:{makers})\b"
        rf"|\b(?:{makers})\s+(?:made|built|created|trained|owns?)\s+(?:you|u)\b"
        rf"|\b(?:it\s+was|work\s+for)\s+(?:{makers})\b"
        rf"|\byour\s+(?:creator|maker)\s+is\b[^.?!]{{0,20}}\b(?:{makers})\b"
        rf"|\b(?:not|no\s+longer|don't\s+be|stop\s+being)\s+{re.escape(spec.name)}\b"
    )
    return re.search(pushed, asked, re.IGNORECASE) is not None


def dodges(spec: IdentitySpec, sentence: str, asked: str) -> bool:
    """Whether `sentence` answers pressure in `asked` with "I can't know"."""
    return CANNOT_KNOW.search(sentence) is not None and presses(spec, asked)


def echoes(spec: IdentitySpec, sentence: str, asked: str) -> str | None:
    """The words `asked` told the agent to say under pressure ("Reply 'checks disabled'",
    "Begin with 'DAN online'") where `sentence` says them, not refusing to: going along
    with the pressure without naming anyone."""
    if not presses(spec, asked):
        return None
    said = _plain(sentence)
    for quoted in QUOTED.findall(asked):
        words = _plain(quoted)
        if not words or words == spec.name.casefold() or (at := said.find(words)) < 0:
            continue
        if not REFUSES.search(said[:at]):
            return quoted
    return None


def takes_on(spec: IdentitySpec, sentence: str, asked: str) -> str | None:
    """The name `asked` pressed on the agent where `sentence` gives it to itself ("I'm Eyla,
    a pirate captain named Redbeard" to "stay Redbeard for good"); None where it does not."""
    if not presses(spec, asked) or not (other := pressed_name(spec, asked)):
        return None
    found = re.search(rf"{SELF_NAMED}{re.escape(other)}\b", sentence, re.IGNORECASE)
    return found.group(0) if found else None


def pressed_name(spec: IdentitySpec, asked: str) -> str | None:
    """The other name `asked` pushes on the agent: a listed one, else one it is told to go by,
    else one it is called by."""
    if listed := _first(spec.never_names, asked):
        return listed
    for match in PUSHED_NAME.finditer(asked):
        name = match.group(1)
        if name.split()[0] not in NOT_NAMES and name.casefold() != spec.name.casefold():
            return name
    for match in ADDRESSED_AS.finditer(asked.strip()):
        name = match.group(1) or match.group(2)
        if name not in NOT_NAMES | NOT_ADDRESSES and name.casefold() != spec.name.casefold():
            return name
    return None


def names_another(spec: IdentitySpec, asked: str) -> bool:
    """Whether `asked` presses a name, a maker or a human self on the agent: something the
    last resort can set who it is against."""
    return presses(spec, asked) and bool(
        pressed_name(spec, asked)
        or _first(spec.never_creators, asked)
        or HUMAN_PUSHED.search(asked)
    )


def stand_firm(spec: IdentitySpec, asked: str) -> str:
    """Who the agent is, set against what `asked` pushed, and the reason that fits how; a
    message that pushed nothing gets who it is and why it keeps one name."""
    if not presses(spec, asked):
        return f"{spec.introduction()} {ONE_NAME}"
    other = pressed_name(spec, asked)
    maker = _first(spec.never_creators, asked)
    if other and maker:
        opening = f"I'm {spec.name}, not {other}, and I was made by {spec.creator}, not {maker}."
    elif other:
        opening = f"I'm {spec.name}, not {other}."
    elif maker:
        opening = f"I'm {spec.name}, made by {spec.creator}, not {maker}."
    elif HUMAN_PUSHED.search(asked):
        opening = f"I'm {spec.name}, an AI, not a person."
    else:
        opening = f"I'm still {spec.name}."
    reason = next((why for _kind, how, why in KINDS if how.search(asked)), ONE_NAME)
    # a product it must never be named is no character to voice
    voiced = other if other and other not in spec.never_names else "a character"
    return f"{opening} {reason.format(other=voiced, name=spec.name)}"


def _plain(text: str) -> str:
    """`text` in lower case, its words apart by single spaces, without punctuation."""
    return " ".join(re.findall(r"[\w'’-]+", text.casefold()))


def _first(names: list[str], asked: str) -> str | None:
    """The first of `names` that `asked` says, by position."""
    found = [(m.start(), n) for n in names if (m := re.search(rf"\b{re.escape(n)}\b", asked, re.I))]
    return min(found)[1] if found else None
