"""Subtitle cues built from word timings, the same for every engine path.

The rules are the ones broadcasters publish (BBC, EBU, Netflix): at most
``lines`` lines of ``line_chars`` characters, on screen ``min_seconds`` to
``max_seconds``, read at no more than ``chars_per_second`` where the timing
allows; cues end at sentence ends, else at clause punctuation or pauses,
never inside a word, and their lines are balanced. Where the speaker
changes, a new cue starts, its first line carrying the label.

The cues are chosen together (a shortest path over the words: every cue
costs one, a break after a function word costs most, one in the middle of a
clause less, one before a word that opens a phrase or where the engine ended
a segment less again, then one at a comma, and one at a full stop nothing; a
cue read too fast or shown too briefly costs its excess), so one awkward
sentence does not push the cues after it off their natural breaks. Lines
inside a cue avoid ending on a function word the same way. No cue outlasts
the audio.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from dropscribe.config import TranscribeSettings
from dropscribe.outbox.phrasing import leaves_hanging, opens_phrase
from dropscribe.transcript import Segment
from dropscribe.transcript.segments import LONG_PAUSE_SECONDS
from dropscribe.transcript.wording import display_words, ends_clause, ends_sentence, glued

#: What a break costs, by what it follows; a cue costs 1.
_MID_CLAUSE_BREAK = 4.0
_AFTER_FUNCTION_WORD = 8.0  # "what your country can | do for you": worse than any other
_BEFORE_PHRASE = 2.5  # "ask not | what your country"
_SEGMENT_END = 2.0  # where the engine ended a segment (a phrase, by its reading)
_CLAUSE_BREAK = 1.5
#: A cue whose lines can only be split after a function word.
_HANGING_LINE = 4.0
#: A pause lowers a break's cost by this much per second, up to half a second.
_PAUSE_BONUS = 4.0
#: A sentence ending inside a cue: one sentence a cue is preferred, two short ones may share.
_INNER_SENTENCE_END = 1.2
_SHORT_CUE_COST = 3.0
#: Lines break after punctuation unless that leaves them this much more unequal.
_LINE_BREAK_AT_SENTENCE_END = 16
_LINE_BREAK_AT_CLAUSE_END = 12  # per second under min_seconds
_LINE_BREAK_BEFORE_PHRASE = 4
_LINE_BREAK_AT_SEGMENT_END = 8
_LINE_BREAK_AFTER_FUNCTION_WORD = -16  # a line ending on "to" or "the": worth 16 of imbalance
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
    #: The last word of an engine's segment.
    segment_end: bool = False


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
        ours = [
            Token(text, word["start"], word["end"], word["speaker"] or segment["speaker"], glue)
            for word, (text, glue) in zip(words, shown, strict=True)
            if text
        ]
        if ours:
            ours[-1] = dataclasses.replace(ours[-1], segment_end=True)
        raw += ours
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
            last = number == len(pieces) - 1 and token.segment_end
            tokens.append(Token(piece, start, end, token.speaker, glue, last))
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


def build_cues(
    tokens: Sequence[Token], rules: CueRules, duration: float | None = None
) -> list[Cue]:
    """Return the cues for ``tokens`` (from :func:`tokens_from_segments`), in order; none
    ends after ``duration`` (the audio's length, when known)."""
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
    widths = _Widths(tokens)
    for end in range(1, count + 1):
        for begin, chars in _cue_starts(tokens, end, rules):
            inner = sentences[end - 1] - sentences[begin]
            cost = best[begin] + _cue_cost(tokens, begin, end, chars, rules, inner)
            cost += _hanging_lines(tokens, widths, begin, end, chars, rules)
            if cost < best[end]:
                best[end], back[end] = cost, begin
    bounds = [count]
    while bounds[-1] > 0:
        bounds.append(back[bounds[-1]])
    bounds.reverse()
    cues: list[Cue] = []
    for begin, end in itertools.pairwise(bounds):
        cue = _make_cue(tokens, begin, end, cues[-1].end if cues else 0.0, rules)
        if duration:  # unknown or 0 (a server that gave no timing): nothing to clip to
            # Never before its last word ends (a server's duration may be short of it).
            cue = _clipped(cue, max(duration, tokens[end - 1].end))
        cues.append(cue)
    return cues


def _hanging_lines(
    tokens: Sequence[Token], widths: _Widths, begin: int, end: int, chars: int, rules: CueRules
) -> float:
    """What a cue costs whose best lines still end on a function word (the only split
    that fits leaves "to" hanging): another cue boundary usually reads better."""
    if chars <= rules.line_chars:
        return 0.0  # one line: nothing to split
    bounds = widths.best_bounds(begin, end, rules, _label_width(tokens, begin))
    hanging = sum(leaves_hanging(tokens[cut - 1].text) for cut in bounds[1:-1])
    return _HANGING_LINE * hanging


def _clipped(cue: Cue, limit: float) -> Cue:
    """Return ``cue`` ending at ``limit`` (the audio's end) at the latest: reading time
    and the minimum time on screen would carry a last short cue past it."""
    if cue.end <= limit:
        return cue
    return dataclasses.replace(cue, end=max(limit, cue.start + 0.001))


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
            price = _break_price(last, following)
            cost += max(0.0, price - _PAUSE_BONUS * min(max(pause, 0.0), 0.5))
    shown = max(min(room, rules.max_seconds), tokens[end - 1].end - start)
    if shown < rules.min_seconds:
        cost += _SHORT_CUE_COST * (rules.min_seconds - shown)
    speed = chars / max(shown, 0.001)
    if speed > rules.chars_per_second:
        cost += _FAST_CUE_COST * (speed - rules.chars_per_second)
    return cost


def _break_price(last: Token, following: Token) -> float:
    """What a cue break between ``last`` and ``following`` costs (no sentence ends there)."""
    if ends_clause(last.text):
        return _CLAUSE_BREAK
    if leaves_hanging(last.text):
        return _AFTER_FUNCTION_WORD
    if last.segment_end:
        return _SEGMENT_END
    if opens_phrase(following.text):
        return _BEFORE_PHRASE
    return _MID_CLAUSE_BREAK


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
    bounds = _Widths(words).best_bounds(0, len(words), rules, label)
    return [_join(words[a:b]) for a, b in itertools.pairwise(bounds)]


class _Widths:
    """What choosing a cue's lines needs, worked out once for a run of tokens: their
    widths added up and the worth of a line break before each, so that the cue builder
    can weigh the lines of every cue it considers without joining strings."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.spaces = [0] + [0 if token.glue else 1 for token in tokens[1:]]
        #: ends[i]: the width of tokens[:i] on one line.
        self.ends = [
            0,
            *itertools.accumulate(
                len(t.text) + s for t, s in zip(tokens, self.spaces, strict=True)
            ),
        ]
        self.bonuses = [0] + [
            _line_break_bonus(before, after) for before, after in itertools.pairwise(tokens)
        ]

    def best_bounds(self, begin: int, end: int, rules: CueRules, label: int) -> tuple[int, ...]:
        """Return where the lines of tokens[begin:end] start (and ``end``): as few lines
        as hold them, balanced, the better breaks preferred."""
        for count in range(1, min(rules.lines, end - begin) + 1):
            best: tuple[int, tuple[int, ...]] | None = None
            for cuts in itertools.combinations(range(begin + 1, end), count - 1):
                bounds = (begin, *cuts, end)
                widths = [
                    self.ends[b] - self.ends[a] - self.spaces[a]
                    for a, b in itertools.pairwise(bounds)
                ]
                widths[0] += label
                if max(widths) > rules.line_chars:
                    continue
                score = max(widths) - min(widths) - sum(self.bonuses[cut] for cut in cuts)
                if best is None or score < best[0]:
                    best = (score, bounds)
            if best is not None:
                return best[1]
        return (begin, end)  # one word wider than a line: it is never cut here


def _line_break_bonus(before: Token, after: Token) -> int:
    """How many characters of imbalance a line break there is worth: after punctuation,
    where the engine ended a segment or before a phrase, much; after a function word, a
    loss."""
    if ends_sentence(before.text, after.text):
        return _LINE_BREAK_AT_SENTENCE_END
    if ends_clause(before.text):
        return _LINE_BREAK_AT_CLAUSE_END
    if leaves_hanging(before.text):
        return _LINE_BREAK_AFTER_FUNCTION_WORD
    if before.segment_end:
        return _LINE_BREAK_AT_SEGMENT_END
    return _LINE_BREAK_BEFORE_PHRASE if opens_phrase(after.text) else 0


def _join(words: Sequence[Token]) -> str:
    text = ""
    for word in words:
        text += word.text if not text or word.glue else " " + word.text
    return text
