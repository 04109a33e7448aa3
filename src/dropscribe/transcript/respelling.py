"""Near misses of the user's terms, written as the terms (the vocabulary's post-pass).

A small model that does not know a name writes something close to it:
"Nashwood" for Dashwood, "Cuban eighties" for Kubernetes, "drop scribe" for
dropscribe. After decoding, a word or a run of two or three words that reads
almost like a term (its letters) and sounds like it (its consonants, classed
as Soundex classes them) is replaced by the term, written as the user wrote
it. The thresholds are tight: a word that is not near a term is never
touched, and nothing is replaced on a guess between two terms.

Pure: handed segments and terms, returns new segments; times stay, the
replaced run's words become the term's words over the same span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from dropscribe.transcript import Segment, Word, make_segment, make_word
from dropscribe.transcript.wording import join_words, word_spans

#: Soundex's consonant classes: letters that sound alike share a digit.
_SOUND_CLASSES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}
#: Terms shorter than this (in letters) are only matched when the letters are the
#: same (another case, or split in words): "Ada" is one letter from many words.
MIN_LETTERS = 5
#: The least share of letters two spellings must have in common (1 - edit distance /
#: the longer length) where one consonant class differs: 0.75 lets one letter in
#: four differ ("Lafford" for Delaford; "Portland" is 0.75 from Norland, but two
#: consonant classes away, and stays).
MIN_SPELLING = 0.75
#: Where the consonant classes are the same, the spellings may differ more.
MIN_SPELLING_SAME_SOUND = 0.6
#: Runs of up to this many words are read as one term ("drop scribe").
MAX_RUN = 3
#: Punctuation that ends a clause inside a run keeps its words apart.
_STOPS = frozenset(".,;:!?")
_CLOSING = ".,;:!?\"')\u201d\u2019"
_QUOTES = "\"'(\u201c\u2018"
_POSSESSIVES = ("'s", "\u2019s", "'", "\u2019")


def letters(text: str) -> str:
    """Return ``text`` lower case, letters and digits only."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def sound(key: str) -> str:
    """Return the consonant classes of ``key`` (from :func:`letters`), repeats merged.

    Vowels separate repeats as in Soundex ("kubernetes" -> "216532").
    """
    classes = []
    previous = ""
    for ch in key:
        code = _SOUND_CLASSES.get(ch, ch if ch.isdigit() else "0" if ch in "aeiou" else "")
        if code and code != previous:
            classes.append(code)
        if code:
            previous = code
    return "".join(code for code in classes if code != "0")


def edit_distance(a: str, b: str) -> int:
    """Return the Levenshtein distance of ``a`` and ``b``."""
    # rapidfuzz's C++: the pure-Python table took 2.2 s of CPU for 7,420 words and 12
    # terms (three runs a word), against a decoding of minutes (bench/README.md).
    return int(Levenshtein.distance(a, b))


def likeness(a: str, b: str) -> float:
    """Return 1 - edit distance / the longer length (1.0: the same)."""
    longest = max(len(a), len(b))
    return 1.0 - edit_distance(a, b) / longest if longest else 1.0


@dataclass(frozen=True)
class Term:
    """A vocabulary term, with its words and keys."""

    words: tuple[str, ...]
    key: str
    sound: str

    @classmethod
    def of(cls, text: str) -> Term:
        key = letters(text)
        return cls(tuple(text.split()), key, sound(key))

    def score(self, heard: str) -> float:
        """Return how near the letters ``heard`` are to the term; 0.0 when not near."""
        if heard == self.key:
            return 1.0
        if heard.startswith(self.key) and len(heard) - len(self.key) <= 2:
            return 0.0  # a form of the term ("Norlands"): not a near miss to rewrite
        if len(self.key) < MIN_LETTERS or abs(len(heard) - len(self.key)) > len(self.key) // 3:
            return 0.0
        spelling = likeness(heard, self.key)
        if spelling < MIN_SPELLING_SAME_SOUND:
            return 0.0
        consonants = edit_distance(sound(heard), self.sound)
        if consonants == 0 or (consonants == 1 and spelling >= MIN_SPELLING):
            return spelling
        return 0.0


@dataclass(frozen=True)
class _Match:
    start: int
    end: int  # exclusive, in words of the segment
    term: Term
    score: float


def respell(segments: Sequence[Segment], terms: Sequence[str]) -> list[Segment]:
    """Return ``segments`` with each near miss of a term written as the term.

    Words that are already the term as written, and words near no term (or
    as near to two terms), are left as they are; so are segments without words.
    """
    known = [Term.of(term) for term in terms if letters(term)]
    if not known:
        return list(segments)
    return [_respell_segment(segment, known) for segment in segments]


def _respell_segment(segment: Segment, terms: Sequence[Term]) -> Segment:
    words = segment["words"]
    matches = _matches([word["word"] for word in words], terms)
    if not matches:
        return segment
    result: list[Word] = []
    spelt: list[tuple[_Match, list[Word]]] = []
    cursor = 0
    for match in matches:
        result += words[cursor : match.start]
        spelt.append((match, _as_term(words[match.start : match.end], match.term)))
        result += spelt[-1][1]
        cursor = match.end
    result += words[cursor:]
    text = _respelt_text(segment["text"], [word["word"] for word in words], spelt)
    if text is None:
        leading = " " if segment["text"].startswith(" ") else ""
        text = leading + join_words([word["word"] for word in result])
    return make_segment(text, segment["start"], segment["end"], result, segment["speaker"])


def _respelt_text(
    text: str, words: Sequence[str], spelt: Sequence[tuple[_Match, list[Word]]]
) -> str | None:
    """Return ``text`` with each replaced run's stretch written as the term, the rest
    as it was: the words are stored without their spacing, so joining them would
    write "cold-hearted" as "cold -hearted" and "o'clock" as "o 'clock" (seen in
    bench/README.md, issue 27). None where the words do not read as the text."""
    spans = word_spans(text, words)
    if spans is None:
        return None
    for match, term_words in reversed(spelt):
        start, end = spans[match.start][0], spans[match.end - 1][1]
        text = text[:start] + " ".join(word["word"] for word in term_words) + text[end:]
    return text


def _matches(shown: Sequence[str], terms: Sequence[Term]) -> list[_Match]:
    """Return the runs to replace, best first taken, none overlapping, in order."""
    found: list[_Match] = []
    for start in range(len(shown)):
        for end in range(start + 1, min(start + MAX_RUN, len(shown)) + 1):
            if any(word.strip()[-1:] in _STOPS for word in shown[start : end - 1]):
                break  # a run does not reach across a clause's end
            match = _best(shown[start:end], terms, start, end)
            if match is not None:
                found.append(match)
    taken: list[_Match] = []
    for match in sorted(found, key=lambda m: (-m.score, m.start)):
        if all(match.end <= t.start or match.start >= t.end for t in taken):
            taken.append(match)
    return sorted(taken, key=lambda m: m.start)


def _best(run: Sequence[str], terms: Sequence[Term], start: int, end: int) -> _Match | None:
    """Return the one term ``run`` is a near miss of, or None (none, or a tie)."""
    heard = _heard(run)
    scored = sorted(((term.score(heard), term) for term in terms), key=lambda pair: -pair[0])
    score, term = scored[0]
    if score == 0.0 or (len(scored) > 1 and scored[1][0] == score):
        return None
    if [_core(word).strip(_QUOTES) for word in run] == list(term.words):
        return None  # already written as the term
    if len(run) > 1 and max(term.score(_heard(run[1:])), term.score(_heard(run[:-1]))) >= score:
        return None  # a word at an end is not part of it ("a Dashwood" is "a" + the term)
    return _Match(start, end, term, score)


def _heard(run: Sequence[str]) -> str:
    return letters("".join(run[:-1]) + _core(run[-1]))


def _core(word: str) -> str:
    """Return ``word`` without its closing punctuation and possessive ("Dashwood's,")."""
    word = word.strip().rstrip(_CLOSING)
    for ending in _POSSESSIVES:
        if word.endswith(ending):
            return word[: -len(ending)]
    return word


def _as_term(run: Sequence[Word], term: Term) -> list[Word]:
    """Return ``term``'s words over the span of ``run``, keeping the punctuation around it."""
    first, last = run[0]["word"].strip(), run[-1]["word"].strip()
    before = first[: len(first) - len(first.lstrip(_QUOTES))]
    after = last[len(_core(last)) :]  # "'s," stays after the term
    start, end = run[0]["start"], run[-1]["end"]
    scores = [word["score"] for word in run if word["score"] is not None]
    score = min(scores) if scores else None
    total = sum(len(word) for word in term.words)
    words: list[Word] = []
    at = start
    for index, text in enumerate(term.words):
        until = end if index == len(term.words) - 1 else at + (end - start) * len(text) / total
        shown = (before if index == 0 else "") + text
        shown += after if index == len(term.words) - 1 else ""
        words.append(make_word(shown, at, until, score, run[0]["speaker"]))
        at = until
    return words
