"""How words read: where sentences and clauses end, how words join, where each
word sits in its segment's text.

Shared by the segment splitter and the cue builder, so that both break a
transcript at the same places.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Scripts written without spaces between words (CJK, kana, Thai): words join directly.
_NO_SPACE = re.compile(
    r"[\u0e00-\u0e7f\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)
# Full-width and typographic marks are meant here (CJK text, closing quotes, dashes).
_SENTENCE_END = re.compile(r"[.!?…。！？]['\"’”»)\]]*$")  # noqa: RUF001
_CLAUSE_END = re.compile(r"[,;:，、；：–—]['\"’”»)\]]*$|^[–—-]$")  # noqa: RUF001
#: Words ending in a full stop that seldom end a sentence (titles, initials, Latin).
_PUNCTUATION = re.compile(r"[^\s\w]")
_ABBREVIATIONS = frozenset(
    {
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "st.",
        "jr.",
        "sr.",
        "prof.",
        "mt.",
        "vs.",
        "etc.",
        "e.g.",
        "i.e.",
    }
)


def ends_sentence(word: str, following: str | None = None) -> bool:
    """Return whether ``word`` ends a sentence (``following`` is the next word, if any)."""
    word = word.strip()
    if not _SENTENCE_END.search(word) or word.lower() in _ABBREVIATIONS:
        return False
    if re.fullmatch(r"[A-Z]\.", word):  # an initial: "John F. Kennedy"
        return False
    if following:
        first = following.strip()[:1]
        # A lower-case word after a full stop continues the sentence ("3.5 p.m. today").
        return not first.islower()
    return True


def ends_clause(word: str) -> bool:
    """Return whether ``word`` ends with clause punctuation (a comma, a semicolon, a dash)."""
    return bool(_CLAUSE_END.search(word.strip()))


def glued(before: str, after: str) -> bool:
    """Return whether ``after`` follows ``before`` with no space (scripts without spaces)."""
    return bool(before and after and _NO_SPACE.match(after[0]) and _NO_SPACE.match(before[-1]))


def unspaced(text: str) -> bool:
    """Return whether ``text`` is written, at least in part, in a script without spaces
    between words: splitting it at spaces does not count its words."""
    return bool(_NO_SPACE.search(text))


def join_words(words: Sequence[str]) -> str:
    """Return ``words`` as text: a space between words, none inside CJK or Thai."""
    text = ""
    for word in words:
        word = word.strip()
        if not word:
            continue
        text += word if not text or glued(text, word) else " " + word
    return text


def _lowered(text: str) -> str:
    """``text`` lower case, one character for each: the offsets found in it are the
    text's ("İ".lower() is two characters, and would move every word after it)."""
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


def word_spans(text: str, words: Sequence[str]) -> list[tuple[int, int]] | None:
    """Return where each word sits in ``text`` as ``(start, end)`` offsets, or None
    when the words do not read as the text (the text was not made from them).

    Only spaces and punctuation may lie between words: servers that strip
    punctuation from words (OpenAI's) still align, and get it back from the text.
    """
    lowered = _lowered(text)
    spans = []
    cursor = 0
    for word in words:
        wanted = _lowered(word.strip())
        if not wanted:
            spans.append((cursor, cursor))
            continue
        found = lowered.find(wanted, cursor)
        if found < 0 or any(ch.isalnum() for ch in lowered[cursor:found]):
            return None
        spans.append((found, found + len(wanted)))
        cursor = found + len(wanted)
    if any(ch.isalnum() for ch in lowered[cursor:]):
        return None
    return spans


def display_words(text: str, words: Sequence[str]) -> list[tuple[str, bool]]:
    """Return each word as it reads in ``text``, with the punctuation touching it there
    ("sells" becomes "sells." when the text says so), and whether it follows the word
    before with no space ("o" then "'clock."). Where the words do not align with the
    text they are returned as they are, joined by spaces except in CJK and Thai."""
    spans = word_spans(text, words)
    if spans is None:
        shown = [word.strip() for word in words]
        return [
            (word, index > 0 and glued(shown[index - 1], word)) for index, word in enumerate(shown)
        ]
    result: list[tuple[str, bool]] = []
    previous_end = 0
    for index, (start, end) in enumerate(spans):
        limit = spans[index + 1][0] if index + 1 < len(spans) else len(text)
        # Punctuation touching the word belongs to it: '"Well,' and 'sells.'
        while start > previous_end and _PUNCTUATION.match(text[start - 1]):
            start -= 1
        while end < limit and _PUNCTUATION.match(text[end]):
            end += 1
        reads = text[start:end] if end > start else words[index].strip()
        result.append((reads, index > 0 and start == previous_end))
        previous_end = end
    return result
