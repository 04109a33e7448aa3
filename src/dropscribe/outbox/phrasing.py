"""Where an English subtitle reads well broken: not after a function word (a line or a
cue ending on "to", "the", "can" leaves the reader hanging), and best before a word
that starts a phrase or a clause ("and", "what", "for").

The lists are English: other languages break by punctuation, pauses and the
engine's segments alone, as before.
"""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    return text.split()


#: Words that lean on what follows them: articles, possessives, prepositions,
#: conjunctions, auxiliaries and modals, "to", subject pronouns. A break right after one
#: reads badly. ("you", "it", "do", "not" are left out: they also end phrases, as in
#: "do for you | ask", "ask not | what".)
FUNCTION_WORDS = frozenset(
    _words("""
    a an the my your his her its our their this that these those some any no every
    each to of in on at by for with from into onto upon about as than like over under
    after before between through during without within against among per via
    and but or nor so yet if because although though while when whether unless until
    since where which who whom whose
    can could will would shall should may might must am is are was were be been being
    has have had very such i we he she they
    """)
)
#: Words that open a phrase or a clause: a break just before one reads naturally.
PHRASE_STARTS = frozenset(
    _words("""
    and but or nor so yet because although though while when whenever whether unless
    until since if where wherever which who whom whose what how why that then
    to of in on at by for with from into about after before between through during
    without against
    """)
)
_EDGES = re.compile(r"^[^\w']+|[^\w']+$")


def bare(word: str) -> str:
    """Return ``word`` in lower case without the punctuation around it."""
    return _EDGES.sub("", word).lower()


def leaves_hanging(word: str) -> bool:
    """Whether a break right after ``word`` leaves its phrase hanging: a function word
    with no punctuation after it."""
    stripped = word.strip()
    if not stripped or (not stripped[-1].isalnum() and stripped[-1] != "'"):
        return False  # punctuation after it: "to," closes something
    return bare(stripped) in FUNCTION_WORDS


def opens_phrase(word: str) -> bool:
    """Whether ``word`` starts a phrase or clause (a good word to start a line or cue)."""
    return bare(word) in PHRASE_STARTS
