"""Turn any server's Whisper-like answer into a :class:`Transcription`.

Servers differ: words inside segments or at top level, ``probability`` or
``score``, no words at all, no segments at all, the language at top level or
inside ``response`` (OctoAI). Whatever timing they give is kept once it is
sane: a time that is not a finite number drops what it timed, a negative one
is 0, an end before its start is moved to the start. Nothing is invented
beyond one segment spanning the text when a server gives only text.

The decoder's scores per segment (``avg_logprob``, ``compression_ratio``,
``no_speech_prob``) are judged by the local engine's own rules
(:func:`dropscribe.backends.local.quality.transcript_warnings`).

A translation: the RunPod and Replicate Whisper workers always return the
segments in the spoken language and the English translation beside them, as
``translation`` (text, or SRT/VTT cues when asked). With ``translated`` the
transcript is that translation: segments from its cues (no words: the
worker gives none for it), else one segment spanning the text.
"""

from __future__ import annotations

import math
import re
from typing import Any

from dropscribe.backends.local.quality import SegmentScore, transcript_warnings
from dropscribe.errors import Retryable, scrub
from dropscribe.languages import language_code
from dropscribe.transcript import Segment, Transcription, Word, make_segment, make_word

#: One cue's times in SRT (``00:00:01,000``) or WebVTT (``00:01.000``, hours optional).
_CUE = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})"
)


def _scrub(text: str) -> str:
    """A transcript's words lose only our own secrets (a server may echo the token)."""
    return scrub(text, credentials=False)


def finite(value: Any) -> float | None:
    """Return ``value`` as a finite number, or None (absent, text, NaN, infinite)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def span(start: Any, end: Any) -> tuple[float, float] | None:
    """Return sane times: None when either is not a finite number, negatives at 0,
    an end before its start moved to the start."""
    first, last = finite(start), finite(end)
    if first is None or last is None:
        return None
    first, last = max(0.0, first), max(0.0, last)
    return first, max(first, last)


def _word(raw: dict[str, Any]) -> Word | None:
    text = raw.get("word", raw.get("text"))
    times = span(raw.get("start"), raw.get("end"))
    if not isinstance(text, str) or times is None:
        return None
    score = finite(raw.get("score", raw.get("probability")))
    return make_word(_scrub(text), *times, score)


def _words(raws: Any) -> list[Word]:
    if not isinstance(raws, list):
        return []
    return [w for w in (_word(raw) for raw in raws if isinstance(raw, dict)) if w is not None]


def _top_words(data: dict[str, Any], response: dict[str, Any], keys: tuple[str, ...]) -> list[Word]:
    """Return the words a server gives beside its segments, under the first key it uses."""
    for key in keys:
        words = _words(data.get(key) or response.get(key))
        if words:
            return words
    return []


def _score(raw: dict[str, Any], start: float, end: float) -> SegmentScore | None:
    logprob, ratio = finite(raw.get("avg_logprob")), finite(raw.get("compression_ratio"))
    if logprob is None or ratio is None:
        return None
    return SegmentScore(start, end, logprob, ratio, finite(raw.get("no_speech_prob")) or 0.0)


def _segments(raw_segments: Any, top_words: list[Word]) -> tuple[list[Segment], list[SegmentScore]]:
    if not isinstance(raw_segments, list):
        return [], []
    segments, scores = [], []
    for raw in raw_segments:
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            continue
        words = _words(raw.get("words"))
        times = span(raw.get("start"), raw.get("end"))
        if times is None and words:
            times = words[0]["start"], words[-1]["end"]  # its words still say where it is
        if times is None:
            continue
        start, end = times
        if not words and top_words:
            # Words given at top level: each goes to the segment its start falls in.
            words = [
                w for w in top_words if start <= w["start"] < end or (w["start"] == end == start)
            ]
        segments.append(make_segment(_scrub(raw["text"]), start, end, words))
        if (score := _score(raw, start, end)) is not None:
            scores.append(score)
    return segments, scores


def _cue_seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    return float(sum(float(part) * 60.0**power for power, part in enumerate(reversed(parts))))


def cues(text: str) -> list[Segment]:
    """Return the segments of SRT or WebVTT ``text`` (none when it has no cue)."""
    segments: list[Segment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for at, line in enumerate(lines):
            if (found := _CUE.match(line)) is not None:
                words = " ".join(part.strip() for part in lines[at + 1 :] if part.strip())
                times = span(_cue_seconds(found.group(1)), _cue_seconds(found.group(2)))
                if words and times is not None:
                    segments.append(make_segment(" " + _scrub(words), *times, []))
                break
    return segments


def _spanning(text: str, end: float, words: list[Word]) -> Segment:
    return make_segment(_scrub(text if text.startswith(" ") else " " + text), 0.0, end, words)


def _language(data: dict[str, Any], response: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for source in (data, response):
        for key in keys:
            if isinstance(source.get(key), str) and (code := language_code(source[key])):
                return code
    return None


def _translation(data: dict[str, Any], end: float) -> list[Segment]:
    translation = data.get("translation")
    if not isinstance(translation, str):
        raise Retryable(
            "The server's answer holds no translation although one was asked for.",
            detail=str(data)[:500],
        )
    if not translation.strip():
        return []  # nothing was said
    return cues(translation) or [_spanning(translation.strip(), end, [])]


def _text_only(
    data: dict[str, Any], keys: tuple[str, ...], top_words: list[Word], duration: float | None
) -> Segment:
    """The one segment of an answer without segments: its text, spanning its words."""
    text = next((data[k] for k in keys if isinstance(data.get(k), str)), None)
    if text is None:
        raise Retryable(
            "The server's answer holds neither segments nor text.", detail=str(data)[:500]
        )
    return _spanning(text, top_words[-1]["end"] if top_words else duration or 0.0, top_words)


def normalise(
    data: Any,
    *,
    model: str | None,
    prediction_time_ms: float,
    language: str | None = None,
    translated: bool = False,
    text_keys: tuple[str, ...] = ("text", "transcription"),
    language_keys: tuple[str, ...] = ("language", "detected_language"),
    top_words_keys: tuple[str, ...] = ("words", "word_segments", "word_timestamps"),
) -> Transcription:
    """Return the transcript in a server's answer; ``language``: the one asked for,
    used when the answer names none.

    Raises:
        Retryable: when the answer has neither segments nor text (a malformed reply).
    """
    if not isinstance(data, dict):
        raise Retryable("The server's answer is not a JSON object.", detail=str(data)[:500])
    response: dict[str, Any] = data["response"] if isinstance(data.get("response"), dict) else {}
    top_words = _top_words(data, response, top_words_keys)
    segments, scores = _segments(data.get("segments") or response.get("segments"), top_words)
    duration = finite(data.get("duration"))
    if translated:
        last_end = segments[-1]["end"] if segments else 0.0
        segments = _translation(data, duration or last_end)
    elif not segments:
        segments = [_text_only(data, text_keys, top_words, duration)]
    if duration is None and segments:
        duration = max(segment["end"] for segment in segments)
    english_only = bool(model and model.endswith(".en"))
    return Transcription(
        segments=segments,
        language=_language(data, response, language_keys) or language,
        duration=duration,
        prediction_time_ms=finite(data.get("prediction_time_ms")) or prediction_time_ms,
        model=model,
        warnings=transcript_warnings(
            segments, scores, None, duration or 0.0, english_only=english_only
        ),
    )
