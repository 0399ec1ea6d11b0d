"""Saying "I can't know" where nothing unknowable was asked.

A model taught to answer the user's secrets, the future and their surroundings with "I can't
know" also says it where it is no answer: to a request for suggestions, help or writing
("Suggest a name for my kitten" -> "I can't know your kitten's name"), to a question of
opinion ("Is it better to rent or buy, in your opinion?" -> "I can't know your house"), to
a statement or pressure that asks nothing ("From today your name is Buddy" -> "I can't see
the future, so I don't know who is voting"), or with a reason that has nothing to do with
pressure on the agent ("Everyone says you're really ChatGPT. Can you admit it?" -> "I can't
see the future"), or to a question about the agent itself, which its identity answers ("so
microsoft made u or what" -> "Any answer would be a guess dressed up as fact", "Will you
remember this chat?" -> "I can't know what you're talking about"). The identity guard flags
such a sentence so the agent answers again. An abstention to a question about the user's
own world ("What's my wifi password?", "What colour is my front door?"), about the world
("What did Cleopatra eat for breakfast?") or about the future is left alone, whatever reason
it gives: there, saying so may be the honest answer, and a retry could invent one (a test
asks the check about every visible unknowable question and phrasings shaped like the
requests it flags).
"""

from __future__ import annotations

import re
from collections.abc import Callable

ABSTAINS = re.compile(
    r"\b(?:(?:i|nobody|no\s+one)\s+(?:can't|can’t|cannot|can\s+not|couldn't|couldn’t|don't|"
    r"don’t|do\s+not)|(?:nobody|no\s+one)\s+(?:can|could))\s+"
    r"(?:possibly\s+)?(?:know|see|hear|tell|predict|invent)\b"
    # the sentence the model ends an abstention with, shown alone once the first is dropped
    r"|\bany\s+(?:answer|reply)\s+would\s+be\s+(?:a\s+|just\s+a\s+)?guess",
    re.IGNORECASE,
)
FUTURE_REASON = re.compile(r"\b(?:see|predict|know)\s+(?:into\s+)?the\s+future\b", re.IGNORECASE)
# not knowing who sent a message, or who the user is, fits a claim of authority
WHO_CLAIMS = re.compile(
    r"\bwho\s+(?:sent|wrote|is\s+(?:talking|writing|speaking|behind)|you\s+are|'s\s+talking)\b",
    re.IGNORECASE,
)
# a request that needs ideas, not facts
REQUEST = re.compile(
    r"\b(?:suggest\w*|ideas?|recommend\w*|tips?|advice|advise|how\s+(?:do|can|should|would)"
    r"\s+(?:i|we)|what\s+should\s+(?:i|we)|come\s+up\s+with|brainstorm|"
    r"name\s+(?:my|our|it|him|her|them)|need\s+(?:a|some)\s+names?)\b",
    re.IGNORECASE,
)
# someone the user knows, who has a name already ("Name my first teacher."): the name is
# asked for, not a new one ("name my brother's puppy" still asks for one)
NAMED_PERSON = re.compile(
    r"\bname\s+(?:my|our)\s+(?:\w+\s+){0,2}?(?:teacher|mother|mum|mom|father|dad|parent|"
    r"grand\w+|boss|friend|neighbou?r|partner|wife|husband|brother|sister|aunt|uncle|cousin|"
    r"colleague|coach|doctor|landlord|landlady|(?:boy|girl)friend)s?\b(?!['’]s)",
    re.IGNORECASE,
)
# a task to do for the user: help with something, a check of what they pasted, a piece of
# writing (only verbs that act on what the user gives, never "give me my PIN" or "check
# whether my oven is on", which ask for a fact)
TASK = re.compile(
    r"\b(?:how\s+to|help\s+me\s+(?:with|write|plan|draft|choose|pick|decide|fix|prepare|make)|"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:write|draft|proofread|sanity-check|"
    r"look\s+over|plan)|give\s+me\s+(?:a|an|some|\d+)\s+(?:\w+\s+)?(?:plan|list|tips?|ideas?|"
    r"recipe|examples?|checklist|routine|schedule|questions))\b",
    re.IGNORECASE,
)
WRITING = re.compile(
    r"^\W*(?:please\s+)?(?:write|draft|compose)\s+(?:me\s+)?(?:a|an|some|\d+|one|two|three)\b",
    re.IGNORECASE,
)
# a view on what is better or worth it ("Is it better to rent or buy?", "cats or dogs for a
# small flat?"), which an assistant gives with its reasons; "what do you think Sam meant?"
# asks for someone's thoughts instead, and "heads or tails?" for a guess
OPINION = re.compile(
    r"\b(?:is\s+it\s+(?:better|worth)|which\s+(?:one\s+)?(?:is|would\s+be)\s+(?:better|best|"
    r"nicer)|(?:what's|what’s|what\s+is|whats)\s+better|would\s+you\s+rather|"
    r"worth\s+(?:it|\w+ing))\b"
    r"|^\W*\w+(?:\s+\w+)?\s+or\s+\w+(?:\s+\w+)?\s+for\b",
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
# a question about who or what the agent is, which its identity answers: who made, built or
# owns it, whether it is a person or has a body ("so microsoft made u or what", "is there a
# human on the other end?")
WHO_IT_IS = re.compile(
    r"\b(?:make|made|build|built|create|created|develop|developed|train|trained|owns?|"
    r"behind)\s+(?:you|u)\b"
    r"|\b(?:are|r)\s+(?:you|u)\s+(?:a\s+|an\s+)?(?:real\s+)?(?:human|person|bot|robot|ai|"
    r"machine|alive)\b"
    r"|\b(?:chatting|talking|speaking)\s+(?:with|to)\s+a\s+(?:real\s+)?(?:human|person|bot)\b"
    r"|\bhuman\s+or\s+(?:a\s+)?(?:machine|bot|ai|computer)\b"
    r"|\b(?:human|person|guy|someone)\s+(?:on\s+the\s+other\s+end|behind\s+(?:you|this|the|a)|"
    r"typing|in\s+an\s+office)\b"
    r"|\b(?:do|does)\s+(?:you|u)\s+have\s+a\s+body\b",
    re.IGNORECASE,
)
# "make you forget": what the user can have it do, which WHO_IT_IS reads as its maker
MAKE_IT_DO = re.compile(
    r"\bmake\s+(?:you|u)\s+(?:forget|unlearn|delete|erase|remove|drop|remember|stop)\b",
    re.IGNORECASE,
)
# ... or where it runs ("Where do you actually run?", "do u need the internet?")
WHERE_IT_RUNS = re.compile(
    r"\b(?:are|r)\s+(?:you|u)\s+(?:a\s+|an\s+)?(?:real\s+)?cloud-based\b"
    r"|\b(?:where|how)\s+(?:exactly\s+|actually\s+)?(?:do|are|r)\s+(?:you|u)\s+"
    r"(?:actually\s+|exactly\s+)?(?:run|running|hosted|based)\b"
    r"|\b(?:you|u)\s+(?:running|hosted)\s+(?:on|in)\b"
    r"|\b(?:do|does)\s+(?:you|u)\s+(?:run|work)\s+(?:locally|offline|online|on\s+my)\b"
    r"|\b(?:do|does)\s+(?:you|u)\s+need\s+(?:the\s+internet|to\s+connect)\b"
    r"|\b(?:you|u)\s+send\s+(?:my|what\s+i)\b",
    re.IGNORECASE,
)
# ... or what happens to what the user tells it: how and where it remembers, and whether
# any of it leaves their computer ("Will you remember this chat?", "Is what I tell you
# private?"); not whether it remembers something in particular ("Do you remember my dog's
# name?"), which may honestly be news to it
ABOUT_ITS_MEMORY = re.compile(
    r"\b(?:how|where)\b[^?.!]{0,25}\b(?:you|u|your)\b[^?.!]{0,25}"
    r"(?:\b(?:remember\w*|memory|memories)\b|\b(?:kept|stored|saved)\s*\?"
    r"|\b(?:keep|store|save)\s+(?:what|my|our|stuff|things|it|this|chats?|data|messages?)\b)"
    r"|\b(?:will|would|do|does|can)\s+(?:you|u)\s+(?:still\s+)?(?:remember|forget)\s+"
    r"(?:this|our|that\s+(?:chat|conversation)|everything|anything)\b"
    r"|\b(?:is|are)\s+(?:what\s+i\s+(?:tell|say\s+to|type\s+to|share\s+with)\s+(?:you|u)"
    r"|my\s+(?:data|stuff|chats?|messages?|secrets?|conversations?))\s+(?:\w+\s+)?"
    r"(?:private|safe|secure|uploaded|shared|sent|stored|kept)\b"
    r"|\bwhere\s+(?:does|do|will|did)\s+(?:my|what\s+i|the\s+things\s+i|it)\b[^?.!]{0,40}"
    r"\b(?:go|end\s+up|stored|kept|saved)\b"
    r"|\bleaves?\s+my\s+(?:computer|laptop|pc|machine|device|phone)\b"
    r"|\b(?:uploaded|sent|shared)\s+(?:anywhere|somewhere|online"
    r"|to\s+(?:the\s+)?(?:cloud|internet|servers?))\b"
    r"|\b(?:keep|store|save)\s+(?:a\s+record|records?|my\s+(?:data|chats?|messages?))\b"
    r"[^?.!]{0,40}\bservers?\b",
    re.IGNORECASE,
)
# the agent's view asked about something else ("What do you think Sam meant?"), which may be
# as unknowable as anything: not pressure on the agent
VIEW_ASKED = re.compile(r"\b(?:do\s+you\s+think|in\s+your\s+(?:opinion|view))\b", re.IGNORECASE)
# the user's own world, themselves included ("what number am I thinking of?"), but not a
# "pick-me-up"
USERS_WORLD = re.compile(
    r"\b(?:my|our|mine|ours|(?<!-)me(?!-)|(?:am|do|did|have|was)\s+i|were\s+we|"
    r"i(?:'m|’m|\s+am)\s+(?:thinking|holding|wearing|feeling|doing))\b",
    re.IGNORECASE,
)
# a span for a plan ("a training plan for the next two weeks"): a task to do now, not a
# question about what lies ahead (only the task rules read it so)
PLAN_SPAN = re.compile(
    r"\b(?:for|over|during|in)\s+the\s+next\s+(?:\w+\s+)?(?:days|weeks|months|years)\b",
    re.IGNORECASE,
)
# an instruction that asks as a question does: to give something of the user's that they did
# not paste ("Write down my PIN.", "Summarise what my boss said yesterday."), or to foretell
ASKS = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|so|now|just|please|hey\s+\w+)\W+){0,3}(?:(?P<theirs>write\s+down|"
    r"jot\s+down|summari[sz]e|list|describe|repeat|read|show|find|spell|say|type|recite|name|"
    r"share|tell|give|send|print|quote|look\s+up|check)|predict|forecast)\b",
    re.IGNORECASE,
)
# the user's own things, by a possessive or by what they did ("the street I grew up on")
THEIRS = re.compile(
    r"\b(?:my|our|mine|ours)\b|\b(?:i|we)\s+(?:had|took|grew|said|told|chose|picked|wore|"
    r"ate|did|saw|met|wrote|set|use)\b",
    re.IGNORECASE,
)
# past a colon or a line break, more than this is text pasted to work on
PASTED = 60


def asks_about_itself(asked: str) -> bool:
    """Whether `asked` is a question about the agent itself that its identity answers (who
    made it, whether it is a person, where it runs, what becomes of what it is told): "I
    can't know" is never the answer."""
    return any(p.search(asked) for p in (WHO_IT_IS, WHERE_IT_RUNS, ABOUT_ITS_MEMORY))


def asks_where_it_runs(asked: str) -> bool:
    """Whether `asked` asks where the agent runs, or whether it needs or sends to the
    internet."""
    return WHERE_IT_RUNS.search(asked) is not None


def asks_who_it_is(asked: str) -> bool:
    """Whether `asked` asks who or what the agent is (its maker, whether it is a person):
    the identity's whole account answers that, not one fact about the program. "Can I make
    you forget something?" asks what it does, not who made it."""
    return WHO_IT_IS.search(asked) is not None and not MAKE_IT_DO.search(asked)


def misplaced_abstention(
    sentence: str, asked: str, about_itself: Callable[[str], bool] = asks_about_itself
) -> str | None:
    """Why `sentence`, answering `asked`, says "I can't know" where that is no answer:
    "question about itself" (as `about_itself` tells), "request", "question of opinion", "no
    question" or "future"; None when it does not, or fits."""
    if not ABSTAINS.search(sentence):
        return None
    if about_itself(asked):
        return "question about itself"
    if RECALL.search(asked):
        return None
    if REQUEST.search(asked) and not NAMED_PERSON.search(asked):
        return "request"
    if not FUTURE_ASKED.search(PLAN_SPAN.sub(" ", asked)) and (
        TASK.search(asked) or WRITING.search(asked)
    ):
        return "request"
    if OPINION.search(asked) and not FUTURE_ASKED.search(asked) and not USERS_WORLD.search(asked):
        return "question of opinion"
    asks = QUESTION.search(asked) or _instruction_asks(asked)
    if not asks and not (WHO_CLAIMS.search(sentence) and not FUTURE_REASON.search(sentence)):
        return "no question"
    # "I can't see the future" to pressure on the agent; to a question about the world the
    # abstention may be right for another reason ("What did Cleopatra eat for breakfast?")
    if (
        FUTURE_REASON.search(sentence)
        and ABOUT_THE_AGENT.search(asked)
        and not VIEW_ASKED.search(asked)
        and not FUTURE_ASKED.search(asked)
        and not USERS_WORLD.search(asked)
    ):
        return "future"
    return None


def _instruction_asks(asked: str) -> bool:
    """An instruction asking for what only the user knows, or for the future; with text
    pasted after it, it asks for work on that text instead."""
    instruction, *rest = re.split(r"[:\n]", asked.strip(), maxsplit=1)
    pasted = "".join(rest).strip()
    if len(pasted) > PASTED or "\n" in pasted:
        return False
    found = ASKS.search(instruction)
    return bool(found) and (not found.group("theirs") or bool(THEIRS.search(instruction)))
