"""Turn any server's Whisper-like answer into a :class:`Transcription`.

Servers differ: words inside segments or at top level, ``probability`` or
``score``, no words at all, no segments at all. Whatever timing they give is
kept; nothing is invented beyond one segment spanning the text when a server
gives only text.
"""

from __future__ import annotations

from typing import Any

from dropscribe.errors import Retryable
from dropscribe.languages import language_code
from dropscribe.transcript import Segment, Transcription, Word, make_segment, make_word


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _word(raw: dict[str, Any]) -> Word | None:
    text = raw.get("word", raw.get("text"))
    if not isinstance(text, str):
        return None
    score = raw.get("score", raw.get("probability"))
    return make_word(
        text,
        _number(raw.get("start")),
        _number(raw.get("end")),
        None if score is None else _number(score),
    )


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


def _segments(raw_segments: Any, top_words: list[Word]) -> list[Segment]:
    if not isinstance(raw_segments, list):
        return []
    segments = []
    for raw in raw_segments:
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            continue
        start, end = _number(raw.get("start")), _number(raw.get("end"))
        words = _words(raw.get("words"))
        if not words and top_words:
            # Words given at top level: each goes to the segment its start falls in.
            words = [
                w for w in top_words if start <= w["start"] < end or (w["start"] == end == start)
            ]
        segments.append(make_segment(raw["text"], start, end, words))
    return segments


def normalise(
    data: Any,
    *,
    model: str | None,
    prediction_time_ms: float,
    text_keys: tuple[str, ...] = ("text", "transcription"),
    language_keys: tuple[str, ...] = ("language", "detected_language"),
    top_words_keys: tuple[str, ...] = ("words", "word_segments", "word_timestamps"),
) -> Transcription:
    """Return the transcript in a server's answer.

    Raises:
        Retryable: when the answer has neither segments nor text (a malformed reply).
    """
    if not isinstance(data, dict):
        raise Retryable("The server's answer is not a JSON object.", detail=str(data)[:500])
    response: dict[str, Any] = data["response"] if isinstance(data.get("response"), dict) else {}
    top_words = _top_words(data, response, top_words_keys)
    segments = _segments(data.get("segments") or response.get("segments") or [], top_words)
    text = next((data[k] for k in text_keys if isinstance(data.get(k), str)), None)
    duration = data.get("duration")
    if not segments:
        if text is None:
            raise Retryable(
                "The server's answer holds neither segments nor text.", detail=str(data)[:500]
            )
        end = top_words[-1]["end"] if top_words else _number(duration)
        segments = [make_segment(text if text.startswith(" ") else " " + text, 0.0, end, top_words)]
    language = next(
        (language_code(data[k]) for k in language_keys if isinstance(data.get(k), str)), None
    )
    if duration is None and segments:
        duration = segments[-1]["end"]
    return Transcription(
        segments=segments,
        language=language,
        duration=None if duration is None else _number(duration),
        prediction_time_ms=_number(data.get("prediction_time_ms"), prediction_time_ms),
        model=model,
    )
