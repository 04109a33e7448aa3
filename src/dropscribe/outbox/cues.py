"""Subtitle cues built from word timings, the same for every engine path.

The rules are the ones broadcasters publish (BBC, EBU, Netflix): at most
``lines`` lines of ``line_chars`` characters, on screen ``min_seconds`` to
``max_seconds``, read at no more than ``chars_per_second`` where the timing
allows; cues end at sentence ends, else at clause punctuation or pauses,
never inside a word, and their lines are balanced. Where the speaker
changes, a new cue starts, its first line carrying the label.

The cues are chosen together (a shortest path over the words: every cue
costs one, a break in the middle of a clause costs more than one at a
comma, which costs more than one at a full stop, and a cue read too fast or
shown too briefly costs its excess), so one awkward sentence does not push
the cues after it off their natural breaks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from dropscribe.config import TranscribeSettings
from dropscribe.transcript import Segment
from dropscribe.transcript.segments import LONG_PAUSE_SECONDS
from dropscribe.transcript.wording import display_words, ends_clause, ends_sentence, glued

#: What a break costs, by what it follows; a cue costs 1.
_MID_CLAUSE_BREAK = 4.0
_CLAUSE_BREAK = 1.5
#: A pause lowers a break's cost by this much per second, up to half a second.
_PAUSE_BONUS = 4.0
#: A sentence ending inside a cue: one sentence a cue is preferred, two short ones may share.
_INNER_SENTENCE_END = 1.2
_SHORT_CUE_COST = 3.0
#: Lines break after punctuation unless that leaves them this much more unequal.
_LINE_BREAK_AT_SENTENCE_END = 16
_LINE_BREAK_AT_CLAUSE_END = 12  # per second under min_seconds
_FAST_CUE_COST = 0.2  # per character a second over chars_per_second


@dataclass(frozen=True)
class CueRules:
    """Subtitle limits; the defaults are the broadcasters' conventions."""

    line_chars: int = 42
    lines: int = 2
    min_seconds: float = 1.0
    max_seconds: float = 7.0
    chars_per_second: float = 20.0

    @classmethod
    def from_settings(cls, settings: TranscribeSettings) -> CueRules:
        return cls(
            settings.cue_line_chars,
            settings.cue_lines,
            settings.cue_min_seconds,
            settings.cue_max_seconds,
            settings.cue_chars_per_second,
        )


@dataclass(frozen=True)
class Token:
    """One word as shown on screen; ``glue``: no space before it (CJK, a cut long word)."""

    text: str
    start: float
    end: float
    speaker: str | None = None
    glue: bool = False


@dataclass(frozen=True)
class Cue:
    """One subtitle; ``new_speaker``: the speaker changes here, so the label is shown."""

    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None
    new_speaker: bool = False


def speaker_prefix(speaker: str) -> str:
    return f"{speaker}: "


def tokens_from_segments(segments: Sequence[Segment], rules: CueRules) -> list[Token]:
    """Return the words of ``segments`` as tokens in reading order, with sane times.

    A segment without word timings has its text spread over its time in proportion
    to each word's length. A "word" longer than a line (a URL, a run of CJK text with
    no timings) is cut into pieces that fit.
    """
    raw: list[Token] = []
    for segment in segments:
        words = segment["words"]
        if not words:
            raw += _spread(segment)
            continue
        shown = display_words(segment["text"], [word["word"] for word in words])
        raw += [
            Token(text, word["start"], word["end"], word["speaker"] or segment["speaker"], glue)
            for word, (text, glue) in zip(words, shown, strict=True)
            if text
        ]
    tokens: list[Token] = []
    for token in raw:
        start = max(token.start, tokens[-1].start if tokens else 0.0)
        end = max(token.end, start)
        # Whisper stretches a word's start over the silence before it.
        start = max(start, end - rules.max_seconds)
        width = rules.line_chars
        pieces = [token.text[i : i + width] for i in range(0, len(token.text), width)]
        for number, piece in enumerate(pieces):
            glue = number > 0 or (bool(tokens) and (token.glue or glued(tokens[-1].text, piece)))
            tokens.append(Token(piece, start, end, token.speaker, glue))
    return tokens


def _spread(segment: Segment) -> list[Token]:
    texts = segment["text"].split()
    total = sum(len(text) + 1 for text in texts)
    start, end = segment["start"], max(segment["end"], segment["start"])
    tokens, position = [], 0
    for text in texts:
        begin = start + (end - start) * position / total
        position += len(text) + 1
        tokens.append(
            Token(text, begin, start + (end - start) * position / total, segment["speaker"])
        )
    return tokens


def build_cues(tokens: Sequence[Token], rules: CueRules) -> list[Cue]:
    """Return the cues for ``tokens`` (from :func:`tokens_from_segments`), in order."""
    count = len(tokens)
    # sentences[i]: sentence ends among the first i breaks between tokens.
    sentences = [
        0,
        *itertools.accumulate(
            ends_sentence(before.text, after.text) for before, after in itertools.pairwise(tokens)
        ),
    ]
    best = [0.0] + [math.inf] * count
    back = [0] * (count + 1)
    for end in range(1, count + 1):
        for begin, chars in _cue_starts(tokens, end, rules):
            inner = sentences[end - 1] - sentences[begin]
            cost = best[begin] + _cue_cost(tokens, begin, end, chars, rules, inner)
            if cost < best[end]:
                best[end], back[end] = cost, begin
    bounds = [count]
    while bounds[-1] > 0:
        bounds.append(back[bounds[-1]])
    bounds.reverse()
    cues: list[Cue] = []
    for begin, end in itertools.pairwise(bounds):
        cues.append(_make_cue(tokens, begin, end, cues[-1].end if cues else 0.0, rules))
    return cues


def _label_width(tokens: Sequence[Token], begin: int) -> int:
    speaker = tokens[begin].speaker
    if speaker is None or (begin > 0 and tokens[begin - 1].speaker == speaker):
        return 0
    return len(speaker_prefix(speaker))


def _cue_starts(tokens: Sequence[Token], end: int, rules: CueRules) -> list[tuple[int, int]]:
    """Return every first token a cue ending before ``end`` may start at, with the
    cue's length in characters. Lines are counted filling them from the end (as few
    lines as any filling needs), so each earlier start adds one token's width."""
    starts = []
    line, lines, chars = 0, 1, 0
    for begin in range(end - 1, -1, -1):
        token = tokens[begin]
        if begin < end - 1:
            after = tokens[begin + 1]
            if (
                after.speaker != token.speaker
                or after.start - token.end >= LONG_PAUSE_SECONDS
                or tokens[end - 1].end - token.start > rules.max_seconds
            ):
                break
            space = 0 if after.glue else 1
            if line + space + len(token.text) <= rules.line_chars:
                line += space + len(token.text)
            else:
                line, lines = len(token.text), lines + 1
            chars += space + len(token.text)
            if lines > rules.lines:
                break
        else:
            line = chars = len(token.text)
        label = _label_width(tokens, begin)
        if begin == end - 1 or _fits_with_label(token, line, lines, label, rules):
            starts.append((begin, chars + label))
    return starts


def _fits_with_label(first: Token, line: int, lines: int, label: int, rules: CueRules) -> bool:
    """Whether lines filled from the end (``lines`` of them, the first ``line`` wide)
    still fit when the first one also holds a speaker label ``label`` wide: there, or
    on a line of its own with the first word."""
    if line + label <= rules.line_chars:
        return True
    return lines < rules.lines and label + len(first.text) <= rules.line_chars


def _cue_cost(
    tokens: Sequence[Token], begin: int, end: int, chars: int, rules: CueRules, inner: int
) -> float:
    """What a cue of ``tokens[begin:end]`` (``chars`` long, ``inner`` sentence ends
    inside) costs, the break after it included."""
    cost = 1.0 + _INNER_SENTENCE_END * inner
    start = tokens[begin].start
    room = math.inf
    if end < len(tokens):
        last, following = tokens[end - 1], tokens[end]
        room = following.start - start
        pause = following.start - last.end
        forced = following.speaker != last.speaker or pause >= LONG_PAUSE_SECONDS
        if not forced and not ends_sentence(last.text, following.text):
            price = _CLAUSE_BREAK if ends_clause(last.text) else _MID_CLAUSE_BREAK
            cost += max(0.0, price - _PAUSE_BONUS * min(max(pause, 0.0), 0.5))
    shown = max(min(room, rules.max_seconds), tokens[end - 1].end - start)
    if shown < rules.min_seconds:
        cost += _SHORT_CUE_COST * (rules.min_seconds - shown)
    speed = chars / max(shown, 0.001)
    if speed > rules.chars_per_second:
        cost += _FAST_CUE_COST * (speed - rules.chars_per_second)
    return cost


def _make_cue(
    tokens: Sequence[Token], begin: int, end: int, previous_end: float, rules: CueRules
) -> Cue:
    """Return the cue of ``tokens[begin:end]``: on screen from its first word, for as
    long as reading it takes (at least ``min_seconds``), until the next cue's first
    word at the latest."""
    words = tokens[begin:end]
    label = _label_width(tokens, begin)
    lines = layout(words, rules, label)
    start = max(words[0].start, previous_end)
    spoken_end = max(words[-1].end, start)
    reading = (sum(len(line) for line in lines) + label) / rules.chars_per_second
    wanted = max(spoken_end, start + rules.min_seconds, start + reading)
    wanted = min(wanted, max(spoken_end, start + rules.max_seconds))
    if end < len(tokens):
        wanted = min(wanted, max(tokens[end].start, start))
    return Cue(start, max(wanted, start + 0.001), tuple(lines), words[0].speaker, label > 0)


def layout(words: Sequence[Token], rules: CueRules, label: int = 0) -> list[str]:
    """Return the lines of a cue: as few as hold its words (the first line also holds a
    ``label`` that wide), their lengths balanced, a break after punctuation preferred."""
    texts = [word.text for word in words]
    for count in range(1, min(rules.lines, len(words)) + 1):
        options = []
        for cuts in itertools.combinations(range(1, len(words)), count - 1):
            bounds = [0, *cuts, len(words)]
            lines = [_join(words[a:b]) for a, b in itertools.pairwise(bounds)]
            widths = [len(line) for line in lines]
            widths[0] += label
            if max(widths) > rules.line_chars:
                continue
            bonus = sum(_line_break_bonus(texts[cut - 1], texts[cut]) for cut in cuts)
            options.append((max(widths) - min(widths) - bonus, lines))
        if options:
            return min(options, key=lambda option: option[0])[1]
    return [_join(words)]  # one word wider than a line: it is never cut here


def _line_break_bonus(before: str, after: str) -> int:
    """How many characters of imbalance a line break after punctuation is worth."""
    if ends_sentence(before, after):
        return _LINE_BREAK_AT_SENTENCE_END
    return _LINE_BREAK_AT_CLAUSE_END if ends_clause(before) else 0


def _join(words: Sequence[Token]) -> str:
    text = ""
    for word in words:
        text += word.text if not text or word.glue else " " + word.text
    return text
