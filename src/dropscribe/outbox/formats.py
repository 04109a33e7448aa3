"""Render a transcript document as plain text, SRT or WebVTT."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def to_txt(document: dict[str, Any]) -> str:
    """Return the text, one segment a line."""
    lines = [segment["text"].strip() for segment in document["response"]["segments"]]
    return "\n".join(line for line in lines if line) + "\n"


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(document: dict[str, Any], separator: str) -> list[str]:
    cues = []
    for segment in document["response"]["segments"]:
        # "-->" would end a cue's text early in both formats.
        text = segment["text"].strip().replace("-->", "->")
        if not text:
            continue
        # A cue that ends before it starts is rejected by players.
        end = max(segment["end"], segment["start"] + 0.001)
        span = f"{_timestamp(segment['start'], separator)} --> {_timestamp(end, separator)}"
        cues.append(f"{span}\n{text}\n")
    return cues


def to_srt(document: dict[str, Any]) -> str:
    cues = _cues(document, ",")
    return "\n".join(f"{number}\n{cue}" for number, cue in enumerate(cues, start=1))


def to_vtt(document: dict[str, Any]) -> str:
    return "WEBVTT\n\n" + "\n".join(_cues(document, "."))


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "txt": to_txt,
    "srt": to_srt,
    "vtt": to_vtt,
}
