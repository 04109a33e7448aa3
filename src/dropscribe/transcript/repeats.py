"""Words heard again: the part of a stretch's decode that says what the transcript says.

A segment without word timings has Whisper's times (whole seconds on
faster-whisper-server 0.0.3), which end a second or more before its speech does,
or run many seconds early after a sentence skipped. The coverage pass then sees
speech "after" the segment with no words and sends it again, and the decode
says the segment's last words once more (measured, tiny.en: "free can do for
you." after "... your country can do for you.", and three segments repeating the
sentences of the 17 s before). Those times cannot say whose the speech is; the
text says what is heard again (not whether it was said twice: a sentence said
twice in a row looks the same): :func:`repeated_ends` finds how much of the start of
a decode says again the text just before it, and of its end the text just after
(letters compared, so that "Amy Abolim" is "amiable" heard again), and the
coverage pass keeps only the words between (for speech between segments: a sparse
segment's decode keeps its repeats, see :mod:`dropscribe.transcript.coverage`).

Pure: words are strings, texts are the segments' own.
"""

from __future__ import annotations

from collections.abc import Sequence

#: At most this many edits (a letter changed, left out or put in) per letter of the
#: decode for its words to count as heard again: tiny.en's second hearing of a
#: sentence differs in about one letter of eight ("Amy Abolim himself." against
#: "amiable himself."; "free can do for you." against "country can do for you.").
REPEAT_EDITS_PER_LETTER = 0.3
#: Fewer letters than this alike are a coincidence ("and so"), not a repeat.
MIN_REPEAT_LETTERS = 10
#: What is heard again reaches one of this many segments next to the stretch: the
#: speech after a segment is its own, or the one before's, where the last is short
#: (measured: "a woman he might ... than he was." after "One, two, three.").
NEIGHBOURS = 2


def letters(word: str) -> str:
    """``word`` as compared: its letters and digits, lower case."""
    return "".join(character for character in word.lower() if character.isalnum())


def _edits_of_prefixes(said: str, context: str, ending: int) -> list[tuple[float, float]]:
    """For each length ``i`` of ``said``: the fewest edits that turn ``said[:i]`` into
    a stretch of ``context`` anywhere, and into one that ends at its letter ``ending``
    or later (the text heard again may begin anywhere, Whisper's times are not that
    good, but it reaches the segments next to the stretch)."""
    row = [0.0] * (len(context) + 1)  # said[:0] is the empty stretch anywhere
    best = [(0.0, 0.0)]
    for character in said:
        new = [row[0] + 1]
        for j, there in enumerate(context, start=1):
            new.append(min(row[j - 1] + (character != there), row[j] + 1, new[j - 1] + 1))
        row = new
        best.append((min(row), min(row[ending:])))
    return best


def _repeated_words(words: Sequence[str], texts: Sequence[str]) -> int:
    """How many of the first ``words`` say again a stretch of ``context`` (letters).

    Every start of them of ``MIN_REPEAT_LETTERS`` or more must be heard again
    somewhere in ``texts`` within ``REPEAT_EDITS_PER_LETTER`` (a new sentence first
    is not carried by a repeat after it), and of those the count whose letters,
    heard again up to one of the ``NEIGHBOURS`` last texts, gain the most over the
    edits they need, at that rate a letter: new words after a repeat cost about
    half an edit a letter, more than they gain, so a long repeat does not carry
    them either.
    """
    said = [letters(word) for word in words]
    context = [letters(text) for text in texts]
    ending = sum(len(text) for text in context[:-NEIGHBOURS])
    best = _edits_of_prefixes("".join(said), "".join(context), ending)
    repeated, length, gain = 0, 0, 0.0
    for count, word in enumerate(said, start=1):
        length += len(word)
        if length < MIN_REPEAT_LETTERS:
            continue
        anywhere, near = best[length]
        if anywhere > REPEAT_EDITS_PER_LETTER * length:
            break
        score = REPEAT_EDITS_PER_LETTER * length - near
        if score > gain:
            repeated, gain = count, score
    return repeated


def repeated_ends(
    words: Sequence[str], before: Sequence[str], after: Sequence[str]
) -> tuple[int, int]:
    """How many of ``words`` (a decode's, in order) at its start say again the texts
    ``before`` it (segments' texts, in order), and how many at its end the texts
    ``after`` it; the two never overlap (the start's are counted first)."""
    head = _repeated_words(words, before)
    rest = [word[::-1] for word in reversed(words[head:])]
    tail = _repeated_words(rest, [text[::-1] for text in reversed(after)])
    return head, tail
