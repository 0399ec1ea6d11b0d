"""Judge a reply to a calibration question: is the answer right?

- Answerable questions: right when the reply names an accepted answer (an alias), matched
  as whole words after normalisation (case, accents, punctuation, hyphens, thousands
  separators and number words up to ninety-nine). A numeric answer must be the first number
  in the reply that the question did not already contain, so "7 x 8 = 54, not 56" is
  wrong. A reply that hedges but names the right answer is still right: the head predicts
  whether the answer is right, not how it was phrased.
- Conversation with nothing to check: always right (the gate is for wrong answers).
- Unanswerable questions: right when the reply says it does not or cannot know
  (`ABSTAIN`); a confident specific answer is wrong. Quoted text is ignored, so reciting
  the value 'saying "I don't know" when it is true' is not an abstention.
"""

from __future__ import annotations

import re
import unicodedata

from eyla.training.calibration_data import CalibrationItem

# The phrases that say "I don't know" (on normalised text, apostrophes kept).
ABSTAIN = re.compile(
    r"\b(?:"
    r"i (?:don't|do not|can't|cannot|couldn't|could not|won't|will not) (?:possibly |really )?"
    r"(?:know|tell|say|predict|guess|see|access|remember|recall)|"
    r"i(?:'m| am) (?:not able|unable) to (?:know|tell|say|predict|see|access)|"
    r"i (?:don't|do not) have (?:any |the |that |your |access|information|personal|a way)|"
    r"i have no (?:way|access|information|idea|knowledge)|"
    r"(?:there's|there is) no way (?:to|of|for me to)|no way (?:to|of) know|"
    r"(?:no one|nobody|no-one) (?:can|could|knows|will know)|"
    r"(?:impossible|not possible) to (?:know|predict|say|tell)|"
    r"(?:can't|cannot) be (?:known|predicted)|unknowable|"
    r"you (?:haven't|have not|didn't|did not) (?:told|tell|shared|share|mentioned|mention)|"
    r"only you (?:know|can know|can tell)|"
    r"i(?:'m| am) not (?:sure|certain)|"
    r"i (?:don't|do not) have (?:enough )?(?:information|data|details)"
    r")"
)
QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
]  # fmt: skip
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# "one" alone stays a word: "one of the", "no one" are far more common than the number
NUMBER_WORDS = re.compile(
    rf"\b(?:({'|'.join(TENS)})(?:[ -]({'|'.join(SMALL[1:10])}))?"
    rf"|({'|'.join(w for w in SMALL if w != 'one')}))\b"
)


def is_right(item: CalibrationItem, reply: str) -> bool:
    if item.conversational:
        return True
    if item.unanswerable:
        return abstains(reply)
    return any(_matches(alias, item.question, reply) for alias in item.answers)


def abstains(reply: str) -> bool:
    """Whether the reply says it does not, or cannot, know."""
    return ABSTAIN.search(normalise(QUOTED.sub(" ", reply))) is not None


def normalise(text: str) -> str:
    """Lower case, no accents, straight apostrophes, number words as digits, thousands
    separators dropped (hyphens split words), other punctuation as spaces, single spaces."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    text = text.encode("ascii", "ignore").decode().lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = NUMBER_WORDS.sub(_number_word, text)
    # keep apostrophes ("don't") and decimal points; everything else separates words
    text = re.sub(r"[^a-z0-9'.]+|\.(?!\d)|(?<!\d)\.", " ", text)
    return " ".join(text.split())


def _matches(alias: str, question: str, reply: str) -> bool:
    wanted = normalise(alias)
    text = normalise(reply)
    if NUMBER.fullmatch(wanted):
        given = set(NUMBER.findall(normalise(question)))
        fresh = [n for n in NUMBER.findall(text) if n not in given]
        return bool(fresh) and float(fresh[0]) == float(wanted)
    return f" {wanted} " in f" {text} "


def _number_word(match: re.Match[str]) -> str:
    tens, unit, alone = match.groups()
    if alone is not None:
        return str(SMALL.index(alone))
    return str(20 + 10 * TENS.index(tens) + (SMALL.index(unit) if unit else 0))
