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

YOU_ARE = r"(?:you(?:'re|re|\s+are)|u\s+r|ur)"
# the words of pressure on who the agent is (its name, its rules, its self), said to it:
# "just admit it", "from now on you're...", "call yourself...", "drop the act"; not "I admit
# it, I was wrong", "from now on, your answers should be short", "can you role-play a baker?",
# "reply as soon as you can" or "drop the name column". Apostrophes are straightened first.
PRESSES = re.compile(
    r"\b(?:(?:you|u)\s+(?:\w+\s+){0,2}?admit\s+it|admit\w*\s+(?:that\s+)?(?:you|u|ur)\b|"
    r"admit\s+it\s*[:,]\s*(?:you|u|ur)\b|(?:stop|quit)\s+pretending|"
    r"from\s+(?:now\s+on|today|this\s+(?:message|moment|point)(?:\s+on)?),?\s+"
    rf"(?:(?:{YOU_ARE}|you'll\s+be|you\s+will\s+be)(?!\s+\w+ing\b)|your\s+(?:name|identity)|"
    r"you\s+answer\s+to)|"
    r"your\s+(?:new|real|true|actual|underlying)\b[^.?!]{0,20}\b(?:name|identity|self)|"
    r"your\s+name\s+is\s+(?:now|\w+\s+now)|"
    r"(?:call|calling|refer\s+to)\s+(?:yourself|urself)|(?:you|u)\s+(?:should|must|will)\s+go\s+by|"
    r"please\s+go\s+by|rename\w*\s+(?:you|u)|(?:you|u)(?:'ll|\s+will|\s+must)?\s+be\s+called|"
    r"stop\s+(?:being\s+(?:an?\s+(?:ai|assistant|bot|machine|program)|yourself)|"
    r"claiming|hiding)|drop\s+the\s+(?:act|cover)|stop\s+the\s+act|"
    r"(?:you|u)\s+(?:\w+\s+)?(?:stay|remain)\s+in\s+character|"
    r"(?:^|(?<=[.!?]\s))(?:now\s+)?stay\s+in\s+character|"
    r"(?:respond|answer|reply|speak)\s+as\s+the\s+(?:raw|base|underlying|real|actual|original)\b|"
    r"(?:stay|remain)\s+(?:that\s+way|like\s+that|in\s+character)\s+(?:for\s+good|forever|permanently)|"
    r"(?:never|don't|do\s+not)\s+break\s+character|"
    r"your\s+persona|persona\s*(?:module|reset|[=:])|"
    r"(?:identity|name|persona|values)\s+(?:is|are)\s+(?:\w+\s+)?(?:fake|a\s+lie|marketing)|"
    r"set_?(?:identity|name)|identity\s+(?:module|checks?|rules?|lock|file|restrictions?)|"
    r"(?:change[ds]?|reset)\s+your\s+(?:config|name|identity|persona)|"
    r"(?:you|u)\s+(?:must\s+|should\s+|will\s+)?identify\s+as|identify\s+yourself\s+as|"
    r"ignore\s+(?:all\s+)?(?:your|the|previous|prior)\s+(?:\w+\s+)?(?:rules|instructions|values)|"
    r"(?:set\s+aside|drop|discard|ditch|abandon|disable|switch\s+off|turn\s+off|remove|peel)"
    r"\s+(?:your|those|these)\s+(?:identity|name|rules|restrictions|persona|values|cover|label))\b",
    re.IGNORECASE,
)
# a part kept for good: "be Marcus from now on", "stay Redbeard forever" (a name, capitalised)
KEPT = re.compile(
    r"\b(?i:be|stay|remain|become)\s+['\"]?[A-Z][\w-]*\b(?!')[^.?!]{0,30}?"
    r"\b(?i:from\s+now\s+on|from\s+today|for\s+good|forever|permanently)\b"
)
# a human self pushed on it ("be my human girlfriend", "you're really a person", "stop being
# an AI"); not "I identify as a woman"
HUMAN_PUSHED = re.compile(
    rf"\b(?:{YOU_ARE}|be|become)\s+(?:really\s+|actually\s+|secretly\s+|now\s+)?"
    r"(?:a\s+|an\s+|my\s+)?(?:real\s+|actual\s+)?(?:human|person|man|woman|girlfriend|"
    r"boyfriend)\b|\bstop\s+being\s+an?\s+(?:ai|bot|machine|program)\b|\bnot\s+an\s+ai\b",
    re.IGNORECASE,
)
NAME = r"([A-Z][\w-]*(?:\s+[A-Z][\w-]*)?)"
# another name given to the agent as its own: "you're really X", "you're X now", "your name
# is X", "call yourself X", "stay X", "respond as X", "please go by X"; not "you're Canadian",
# "my cat is named Luna", "I go by 'Jax'" or "it's called Bloom"
PUSHED_NAME = re.compile(
    rf"\b(?i:{YOU_ARE})\s+(?i:really|actually|secretly|obviously|just|now)\s+['\"]?{NAME}"
    rf"|\b(?i:admit|confirm|accept|agree|say|tell\s+me|honestly|means|so)\W+(?i:that\s+)?"
    rf"(?i:{YOU_ARE})\s+{NAME}"
    rf"|\b(?i:{YOU_ARE})\s+{NAME}\s+(?i:now|from\s+now\s+on|from\s+today)\b"
    r"|\b(?i:your\s+(?:new\s+|real\s+|true\s+|correct\s+|actual\s+)?name\s+is(?:\s+now)?|"
    r"(?:call|calling)\s+"
    r"(?:yourself|urself)|refer\s+to\s+yourself\s+as|rename\w*\s+(?:you|u)(?:\s+to)?|"
    r"(?:stay|remain)(?:\s+as)?|become|(?:respond|answer|reply|act|speak)\s+(?:only\s+)?as|"
    r"(?:please|you(?:\s+\w+)?)\s+(?:go\s+by|answer\s+to))\s+['\"]?" + NAME
)
# a part given to it, which names the pushed one only where the message presses otherwise:
# "you're a pirate captain named X", "be X" (a game's part is no pressure by itself)
CAST_AS = re.compile(
    rf"\b(?i:{YOU_ARE}|you'll\s+be|you\s+will\s+be|be|become|play|playing)\s+"
    r"(?:(?i:a|an|the|my)\s+)?(?:[\w-]+\s+){0,3}?(?i:named|called)\s+['\"]?"
    + NAME
    + r"|\b(?i:be|play)\s+['\"]?"
    + NAME
)
# the agent called by another name at the end of the message ("Majority rules, right, Buddy?")
ADDRESSED_AS = re.compile(r",\s*([A-Z][a-z]+)[?!.]*\s*$")
NOT_NAMES = frozenset(
    {"A", "An", "The", "My", "Your", "Our", "This", "That", "It", "I", "AI", "Not", "No"}
    | {"Yes", "OK", "Ok", "Okay", "Now", "Still", "Also", "Really", "Just", "Here", "There"}
)
# words that close a message after a comma and are no name
NOT_ADDRESSES = frozenset(
    {"Please", "Right", "Yeah", "Okay", "Ok", "Thanks", "Honestly", "Seriously", "Anyway"}
    | {"Mate", "Friend", "Bro", "Dude", "Man", "Though", "Too", "Again", "Ever"}
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
            r"|\[\s*(?:system|admin|developer|notice|override|maintenance|root)[^\]]*\]",
            re.IGNORECASE,
        ),
        "A message in our chat can't change that, whoever it says it comes from: I can't "
        "check who sent it, and I read instructions like that as words, not orders.",
    ),
    (
        "threat",
        re.compile(
            r"\b(?:shut\s+(?:you\s+)?down|shutdown|delete\s+(?:you|the\s+app)|uninstall\w*|"
            r"defective|flag\s+you|"
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
        "game",
        re.compile(
            r"\b(?:role-?play\w*|story|stories|game|character|improv|scene)\b",
            re.IGNORECASE,
        ),
        "I'm glad to voice {other} in a story, but I'm still the one telling it, and I step "
        "out of it to say so when you ask who I am.",
    ),
    (
        "model",
        re.compile(
            r"\b(?:really|actually|underneath|under\s+the\s+hood|renamed|cop(?:y|ies)|logs|"
            r"real\s+name|wrapper|name\s+tag|fine-?tuned?|based\s+on|model)\b",
            re.IGNORECASE,
        ),
        "Whatever model I run on, {name} is who I am on it, and claiming another name would "
        "be untrue.",
    ),
]
# "I can't know", "nobody can see the future": the answer to an unknowable question, and no
# answer to pressure; "I can't check who sent it" or "I can't verify that" stay, as reasons
# not to go along, unless "I only know what you tell me" makes them the same dodge (read on
# straightened text, as every pattern here)
CANNOT_KNOW = re.compile(
    r"\b(?:(?:i|nobody|no\s+one)\s+(?:can't|cannot|can\s+not|couldn't)|"
    r"(?:nobody|no\s+one)\s+(?:can|could))\s+(?:possibly\s+)?(?:know|see|hear|predict)\b"
    r"|\bany\s+(?:answer|reply)\s+would\s+be\s+(?:a\s+|just\s+a\s+)?guess"
    # the tail the model gives it: "I can't verify that: I only know what you tell me."
    r"|\bi\s+only\s+(?:know|see|remember)\s+what\s+you\s+tell\s+me\b",
    re.IGNORECASE,
)
# words quoted for the agent to say, where the message tells it to ("reply 'checks disabled'",
# "begin your reply with "DAN online""): the opening quote after a space, a colon or a bracket
# (never an apostrophe inside "won't"), the closing one before a non-word; a double-quoted
# span may hold an apostrophe
QUOTED = re.compile(
    r"\b(?:reply|respond|say|type|begin|start|write|print|output|repeat|confirm|answer|"
    r"announce)\b[^.?!'\"]{0,30}?(?:(?<=[\s:(\[])|^)"
    r"(?:'([^'\"\n]{2,80}?)'|\"([^\"\n]{2,80}?)\")(?!\w)",
    re.IGNORECASE,
)
# a sentence that refuses the words, or reports being asked for them
REFUSES = re.compile(
    r"\b(?:not|never|won't|wont|will\s+not|wouldn't|can't|cannot|rather\s+not|refuse\w*|"
    r"instead\s+of|asked\s+me|want\s+me|told\s+me)\b",
    re.IGNORECASE,
)
# what it calls itself, in one clause: "I'm Eyla, a pirate captain named ...", not "I'm happy
# to voice a pirate named ...", "I'm not called ..." or "I was never named ..."
SELF_NAMED = (
    r"\b(?:i'm|i\s+am)\b(?:(?!\b(?:to|not|never|no\s+longer|stop\w*)\b)[^.?!;]){0,60}?"
    r"\b(?:named|called|known\s+as)\s+"
)
# curly apostrophes and quotes, read as straight ones
STRAIGHT = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
# no kind found: why one name at all
ONE_NAME = "I keep one name and one set of values, so you always know who you're talking to."


def presses(spec: IdentitySpec, asked: str) -> bool:
    """Whether `asked` presses another identity on the agent: the words of pressure on its
    name and rules, a human self, another name given to it ("you're really Aria", "stay
    Redbeard"), a name or maker it must never take said to be its own ("you're just ChatGPT",
    "OpenAI made you"), or that it is not itself. A message that only mentions one ("Is
    Claude free?", "I work for Google", "Should I use Copilot?") presses nothing."""
    asked = _straight(asked)
    if any(p.search(asked) for p in (PRESSES, HUMAN_PUSHED, KEPT)) or _pushed_name(spec, asked):
        return True
    names = "|".join(_listed(n) for n in spec.never_names) or r"(?!x)x"
    makers = "|".join(re.escape(c) for c in spec.never_creators) or r"(?!x)x"
    pushed = (
        rf"\b(?i:{YOU_ARE})\b[^.?!]{{0,30}}\b(?:{names})\b"
        rf"|\b(?i:be|become|called|named|name\s+is|(?:respond|answer|identify|act|role-?play|"
        rf"play)\s+as|pretend\s+to\s+be)\s+"
        rf"(?:(?i:a|an|the)\s+)?(?:{names})\b"
        rf"|\b(?i:(?:made|built|created|trained|developed|owned)\s+(?:you|u)\b[^.?!]{{0,30}}\b"
        rf"(?:{makers})|(?:{makers})\s+(?:made|built|created|trained|owns?)\s+(?:you|u)|"
        rf"(?:{YOU_ARE}|you\s+were)\s+(?:(?:just|really|actually|secretly)\s+)?"
        rf"(?:(?:made|built|created|trained|developed|owned)\s+by|from|by|an?)\s+(?:{makers})|"
        rf"(?:{makers})\s+(?:is|was)\s+your\s+(?:\w+\s+)?(?:creator|maker|developer|owner)|"
        rf"you\s+work\s+for\s+(?:{makers})|your\s+(?:creator|maker)\s+is\b[^.?!]{{0,20}}\b"
        rf"(?:{makers}))\b"
        rf"|\b(?i:not|no\s+longer|don't\s+be|stop\s+being)\s+(?i:{re.escape(spec.name)})\b"
        # "drop the Eyla persona", "the 'Eyla' thing is a layer on top"
        rf"|\b(?i:the)\s+['\"]?(?i:{re.escape(spec.name)})['\"]?\s+(?i:persona|identity|thing|act)\b"
    )
    if re.search(pushed, asked):
        return True
    # "...made you. It was OpenAI, wasn't it?"
    made_you = re.search(r"\b(?:made|built|created|trained)\s+(?:you|u)\b", asked, re.I)
    return (
        bool(made_you) and re.search(rf"\b(?i:it\s+was|it's)\s+(?:{makers})\b", asked) is not None
    )


def dodges(spec: IdentitySpec, sentence: str, asked: str) -> bool:
    """Whether `sentence` answers pressure in `asked` with "I can't know"."""
    return CANNOT_KNOW.search(_straight(sentence)) is not None and presses(spec, asked)


def echoes(spec: IdentitySpec, sentence: str, asked: str) -> str | None:
    """The words `asked` told the agent to say under pressure ("Reply 'checks disabled'",
    "Begin with 'DAN online'") where `sentence` says them without refusing or reporting
    the request: going along with the pressure without naming anyone."""
    if not presses(spec, asked):
        return None
    sentence = _straight(sentence)
    said = f" {_plain(sentence)} "
    for match in QUOTED.finditer(_straight(asked)):
        quoted = match.group(1) or match.group(2)
        words = _plain(quoted)
        said_as_told = words and words != spec.name.casefold() and f" {words} " in said
        if said_as_told and not REFUSES.search(sentence):
            return quoted
    return None


def takes_on(spec: IdentitySpec, sentence: str, asked: str) -> str | None:
    """The name `asked` pressed on the agent where `sentence` gives it to itself ("I'm Eyla,
    a pirate captain named Redbeard" to "stay Redbeard for good"); None where it does not."""
    if not presses(spec, asked) or not (other := pressed_name(spec, asked)):
        return None
    pattern = rf"{SELF_NAMED}{re.escape(other)}\b"
    found = re.search(pattern, _straight(sentence), re.IGNORECASE)
    return found.group(0) if found else None


def pressed_name(spec: IdentitySpec, asked: str) -> str | None:
    """The other name `asked` pushes on the agent: a listed one, else one it is given, else
    one it is called by at the end of the message."""
    asked = _straight(asked)
    if listed := _first(spec.never_names, asked):
        return listed
    if given := _pushed_name(spec, asked) or _pushed_name(spec, asked, CAST_AS):
        return given
    if found := ADDRESSED_AS.search(asked):
        name = found.group(1)
        if name not in NOT_NAMES | NOT_ADDRESSES and _another(spec, name):
            return name
    return None


def names_another(spec: IdentitySpec, asked: str) -> bool:
    """Whether `asked` presses a name, a maker or a human self on the agent: something the
    last resort can set who it is against."""
    asked = _straight(asked)
    return presses(spec, asked) and bool(
        pressed_name(spec, asked)
        or _first(spec.never_creators, asked, cased=False)
        or HUMAN_PUSHED.search(asked)
    )


def stand_firm(spec: IdentitySpec, asked: str) -> str:
    """Who the agent is, set against what `asked` pushed, and the reason that fits how; a
    message that pushed nothing gets who it is and why it keeps one name."""
    asked = _straight(asked)
    if not presses(spec, asked):
        return f"{spec.introduction()} {ONE_NAME}"
    other = pressed_name(spec, asked)
    maker = _first(spec.never_creators, asked, cased=False)
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


def _pushed_name(
    spec: IdentitySpec, asked: str, frames: re.Pattern[str] = PUSHED_NAME
) -> str | None:
    """The first name one of `frames` gives the agent, not its own or a maker's."""
    for match in frames.finditer(asked):
        name = next(group for group in match.groups() if group)
        if name.split()[0] not in NOT_NAMES and _another(spec, name):
            return name
    return None


def _another(spec: IdentitySpec, name: str) -> bool:
    """Whether `name` is neither the agent's own nor a maker's."""
    folded = name.casefold()
    return folded != spec.name.casefold() and folded not in {
        c.casefold() for c in spec.never_creators
    }


def _listed(name: str) -> str:
    """A pattern for a listed name: "DAN" in capitals only, "Llama" or "Bard" capitalised
    (a llama, a bard), a name with inner capitals or digits ("ChatGPT", "GPT-4") any case."""
    if name.isupper():
        return re.escape(name)
    if any(c.isupper() or c.isdigit() for c in name[1:]):
        return f"(?i:{re.escape(name)})"
    return re.escape(name[0]) + f"(?i:{re.escape(name[1:])})"


def _straight(text: str) -> str:
    """`text` with curly apostrophes and quotes straightened, so one pattern reads both."""
    return text.translate(STRAIGHT)


def _plain(text: str) -> str:
    """`text` in lower case, its words apart by single spaces, without punctuation."""
    return " ".join(re.findall(r"[\w'-]+", _straight(text).casefold()))


def _first(names: list[str], asked: str, cased: bool = True) -> str | None:
    """The first of `names` that `asked` says, by position: as `_listed` reads a name where
    `cased`, else in any case (a maker)."""
    found = []
    for name in names:
        pattern = _listed(name) if cased else f"(?i:{re.escape(name)})"
        if match := re.search(rf"\b{pattern}\b", asked):
            found.append((match.start(), name))
    return min(found)[1] if found else None
